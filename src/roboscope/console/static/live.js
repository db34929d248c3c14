// Follows one work session's live stream (GET /work-sessions/{id}/events, docs/live.md).
//
// EventSource cannot send headers, so with a token the stream opens with a query token made
// just before (POST …/stream-token: a minute, this session only) and resumes with `since=`
// (the last data event's id). EventSource's own reconnect is not used: after any error the
// stream is closed, the catch-up endpoint is asked from the last id (it tells a down server,
// 401, 404 and 410 apart, which EventSource cannot), and a new stream opens with a fresh
// query token. Nothing is lost: the stream sends every change after `since`.

import { api, apiUrl, ApiError, storedToken } from "./api.js";

export const EVENT_NAMES = [
  "marker.created",
  "marker.updated",
  "marker.deleted",
  "details.created",
  "details.updated",
  "details.deleted",
  "anchor.created",
  "anchor.updated",
  "anchor.deleted",
  "work_session.created",
  "work_session.updated",
  "work_session.deleted",
  "presence.snapshot",
  "presence.joined",
  "presence.updated",
  "presence.left",
  "lock.snapshot",
  "lock.acquired",
  "lock.extended",
  "lock.released",
  "lock.expired",
  "stream.dropped",
  "stream.closing",
];

const MAX_DELAY_MS = 5000;

/**
 * `handlers`: onEvent(name, data, cursor), onStatus("connecting" | "live" | "reconnecting" |
 * "ended"), onReload() when the cursor is too old (410: load a snapshot, then `resume`),
 * onGone() when the session no longer exists, onUnauthorized(error).
 */
export class LiveStream {
  constructor(sessionId, cursor, handlers) {
    this.sessionId = sessionId;
    this.cursor = cursor;
    this.handlers = handlers;
    this.source = null;
    this.failures = 0;
    this.timer = null;
    this.stopped = false;
    this.status = null;
  }

  start() {
    this.setStatus("connecting");
    this.connect();
  }

  /** Continue from a fresh snapshot's cursor (after onReload). */
  resume(cursor) {
    this.cursor = cursor;
    this.failures = 0;
    this.connect();
  }

  stop(status = "ended") {
    this.stopped = true;
    clearTimeout(this.timer);
    this.closeSource();
    this.setStatus(status);
  }

  /** The connection is suspected dead (another request found the server unreachable). */
  suspect() {
    if (this.status === "live") this.dropped();
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.handlers.onStatus(status);
  }

  closeSource() {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  async connect() {
    if (this.stopped) return;
    const query = { since: this.cursor };
    try {
      if (storedToken()) {
        const made = await api.post(`work-sessions/${this.sessionId}/stream-token`);
        query.access_token = made.token;
      }
    } catch (error) {
      this.failed(error);
      return;
    }
    if (this.stopped) return;
    const source = new EventSource(apiUrl(`work-sessions/${this.sessionId}/events`, query));
    this.source = source;
    let opened = false;
    source.onopen = () => {
      if (this.source !== source) return;
      opened = true;
      this.failures = 0;
      this.setStatus("live");
    };
    source.onerror = () => {
      if (this.source !== source) return;
      if (!opened) this.failures += 1; // refused before it started (429, 503): back off
      this.dropped();
    };
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (message) => this.receive(source, name, message));
    }
  }

  receive(source, name, message) {
    if (this.source !== source) return;
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    // EventSource keeps the last `id:` it saw; presence and lock events carry none.
    if (message.lastEventId && /^\d+$/.test(message.lastEventId)) {
      this.cursor = message.lastEventId;
    }
    this.handlers.onEvent(name, data, this.cursor);
    if (name === "work_session.deleted") this.stop();
    else if (name === "stream.dropped" || name === "stream.closing") this.dropped();
  }

  /** The stream ended or failed: close it, find out why, and come back from the cursor. */
  dropped() {
    this.closeSource();
    if (this.stopped) return;
    this.setStatus("reconnecting");
    this.schedule(this.probe.bind(this));
  }

  schedule(step) {
    clearTimeout(this.timer);
    const delay = this.failures === 0 ? 0 : Math.min(250 * 2 ** this.failures, MAX_DELAY_MS);
    this.timer = setTimeout(step, delay);
  }

  async probe() {
    if (this.stopped) return;
    try {
      await api.get(`work-sessions/${this.sessionId}/changes`, { since: this.cursor, limit: 1 });
    } catch (error) {
      this.failed(error);
      return;
    }
    this.connect();
  }

  failed(error) {
    if (this.stopped) return;
    this.closeSource();
    if (error instanceof ApiError && error.status === 410) {
      this.setStatus("reconnecting");
      this.handlers.onReload();
    } else if (error instanceof ApiError && error.status === 404) {
      this.stop();
      this.handlers.onGone();
    } else if (error instanceof ApiError && error.status === 401) {
      this.stop();
      this.handlers.onUnauthorized(error);
    } else {
      // Down, restarting, overloaded (503, 429): try again, less and less often.
      this.failures += 1;
      this.setStatus("reconnecting");
      this.schedule(this.probe.bind(this));
    }
  }
}
