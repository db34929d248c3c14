// A work session, live: the map, who is present, the edit lock, the markers table and the
// event log, all driven by the session's event stream without reloads.
//
// Sync as docs/live.md says: load the markers with their cursor (X-Roboscope-Cursor), follow
// the stream from that cursor, apply each event; on 410 load a fresh snapshot and go on.

import { api, request, Unreachable } from "./api.js";
import { EventLog } from "./event-log.js";
import { fill, h, shortId, when } from "./dom.js";
import { LiveStream } from "./live.js";
import { LockPanel } from "./lock.js";
import { MarkerMap } from "./map.js";
import { MarkersTable } from "./markers-table.js";
import { PresencePanel } from "./presence.js";

const PRESENCE_REFRESH_MS = 5000;

const STATUS_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  ended: "Stream ended",
};

function panel(id, title, ...content) {
  return h(
    "section",
    { class: `panel ${id}`, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    ...content,
  );
}

async function loadSnapshot(sessionId) {
  const answer = await request("GET", `work-sessions/${sessionId}/markers`);
  return { markers: answer.data, cursor: answer.headers.get("X-Roboscope-Cursor") };
}

export async function showSession(main, identity, ui, sessionId) {
  ui.title("Work session");
  let session;
  let snapshot;
  try {
    session = await api.get(`work-sessions/${sessionId}`);
    snapshot = await loadSnapshot(sessionId);
  } catch (error) {
    ui.failed(error, `Work session ${sessionId} could not be loaded`);
    return;
  }
  let space = null;
  try {
    space = await api.get(`spaces/${session.space_id}`);
  } catch {
    // The session's page works without its space's name.
  }
  ui.crumbs([
    { label: "Spaces", href: "." },
    {
      label: space ? space.name : `Space ${shortId(session.space_id)}`,
      href: `spaces/${session.space_id}`,
    },
    { label: `Session ${shortId(sessionId)}` },
  ]);
  ui.title(`${session.session_type} session ${shortId(sessionId)}`);

  const canWrite = identity.scope !== "read";
  const markers = new Map();
  const map = new MarkerMap();
  const table = new MarkersTable({ canWrite, onChanged: (marker) => applyMarker(marker, false) });
  const presence = new PresencePanel();
  const lock = new LockPanel({ sessionId, canForce: identity.scope === "admin" });
  const log = new EventLog();
  const facts = h("p", { class: "facts" });
  const liveState = h("p", { class: "live-state", role: "status" }, STATUS_TEXT.connecting);
  const markerCount = h("span", { class: "count" });

  function showFacts() {
    fill(
      facts,
      h("span", { class: `badge status-${session.status}` }, session.status),
      ` ${session.session_type} · version ${session.version} · started ${when(session.started_at)}`,
      session.completed_at ? ` · completed ${when(session.completed_at)}` : "",
    );
  }

  function showCount() {
    markerCount.textContent = ` (${markers.size})`;
  }

  function reset(list) {
    markers.clear();
    for (const marker of list) markers.set(marker.id, marker);
    map.reset(list);
    table.reset(list);
    showCount();
  }

  /** A marker from the stream, or from an answer to this page's own edit (which the stream
   * brings too, maybe first): never replace a newer one, nor bring back a deleted one. */
  function applyMarker(marker, fromStream) {
    const current = markers.get(marker.id);
    if (!current && !fromStream) return;
    if (
      current &&
      (current.version > marker.version || (!fromStream && current.version === marker.version))
    ) {
      return; // (details change without a new version: the stream's copy is the fresher)
    }
    markers.set(marker.id, marker);
    map.upsert(marker);
    table.upsert(marker);
    showCount();
  }

  function applyDetails(markerId, details) {
    const current = markers.get(markerId);
    if (!current) return;
    const marker = { ...current, details };
    markers.set(markerId, marker);
    map.upsert(marker, false);
    table.upsert(marker);
  }

  function apply(name, data, cursor) {
    switch (name) {
      case "marker.created":
      case "marker.updated":
        applyMarker(data, true);
        break;
      case "marker.deleted":
        markers.delete(data.id);
        map.remove(data.id);
        table.remove(data.id);
        showCount();
        break;
      case "details.created":
      case "details.updated":
        applyDetails(data.marker_id, data);
        break;
      case "details.deleted":
        applyDetails(data.marker_id, null);
        break;
      case "work_session.updated":
        session = data;
        showFacts();
        break;
      case "work_session.deleted":
        ui.banner("This work session was deleted.", "warning");
        break;
      default:
        if (name.startsWith("presence.")) {
          if (name === "presence.snapshot") presence.reset(data);
          else presence.apply(name, data);
        } else if (name.startsWith("lock.")) lock.apply(name, data);
    }
    log.add(name, data, cursor);
  }

  const stream = new LiveStream(sessionId, snapshot.cursor, {
    onEvent: apply,
    onStatus(status) {
      liveState.textContent = STATUS_TEXT[status];
      liveState.dataset.state = status;
      if (status === "reconnecting") {
        ui.banner(
          "Reconnecting… the live stream dropped; the changes made meanwhile will follow.",
          "warning",
        );
        log.note("reconnecting");
      } else if (status === "live") {
        ui.banner(null);
        log.note("connected");
      }
    },
    async onReload() {
      log.note("the stream's cursor is older than the change log keeps: reloading");
      try {
        const fresh = await loadSnapshot(sessionId);
        reset(fresh.markers);
        stream.resume(fresh.cursor);
      } catch (error) {
        stream.failed(error);
      }
    },
    onGone() {
      ui.banner("This work session no longer exists.", "warning");
    },
    onUnauthorized(error) {
      ui.unauthorized(error);
    },
  });

  fill(
    main,
    h(
      "div",
      { class: "session-page" },
      h(
        "header",
        { class: "page-head" },
        h("h1", {}, `Work session ${shortId(sessionId)}`),
        facts,
        liveState,
      ),
      h(
        "div",
        { class: "session-grid" },
        panel("map-panel", "Map", map.element),
        h(
          "div",
          { class: "side" },
          panel("presence-panel", "Present", presence.element),
          panel("lock-panel", "Edit lock", lock.element),
        ),
        panel("markers-panel", h("span", {}, "Markers", markerCount), table.element),
        panel("log-panel", "Events", log.element),
      ),
    ),
  );
  showFacts();
  reset(snapshot.markers);
  stream.start();

  setInterval(() => {
    presence.tick();
    lock.tick();
  }, 1000);
  setInterval(async () => {
    if (stream.status !== "live") return;
    try {
      presence.refresh(await api.get(`presence/${sessionId}`));
    } catch (error) {
      if (error instanceof Unreachable) stream.suspect();
    }
  }, PRESENCE_REFRESH_MS);
}
