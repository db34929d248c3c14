// The live event log, newest first, filterable by kind. A role="log" region, so screen
// readers announce new entries politely; at most MAX_ENTRIES are kept.

import { clock, h, shortId, uid } from "./dom.js";

const MAX_ENTRIES = 300;
export const KINDS = ["marker", "details", "anchor", "presence", "lock", "work_session", "stream"];

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

function describe(name, data) {
  const [kind, action] = name.split(".");
  const who = (d) => d.display_name || d.user_id;
  switch (kind) {
    case "marker":
      return action === "deleted"
        ? `marker ${shortId(data.id)} deleted`
        : `${data.label || `marker ${shortId(data.id)}`} ${action}, version ${data.version}`;
    case "details":
      return `details of marker ${shortId(data.marker_id)} ${action}`;
    case "anchor":
      return `anchor ${shortId(data.id)} ${action}`;
    case "work_session":
      return action === "deleted"
        ? "this work session was deleted"
        : `session ${action}: ${data.status}, version ${data.version}`;
    case "presence":
      if (action === "snapshot") {
        return `${plural(data.user_count, "person", "people")} on ${plural(data.device_count, "device", "devices")}`;
      }
      if (action === "left") return `${data.user_id} left (${data.device_id}, ${data.reason})`;
      return `${who(data)} ${action} (${data.device_id})`;
    case "lock":
      if (action === "snapshot")
        return data.locked ? `held by ${data.owner || "someone"}, fence ${data.fence}` : "free";
      if (action === "released" || action === "expired") {
        return `${action}${data.reason === "forced" ? " (forced)" : ""}, fence ${data.fence}`;
      }
      return `${action} by ${data.owner || "someone"}, fence ${data.fence}`;
    default:
      return data.message || data.reason || "";
  }
}

export class EventLog {
  constructor() {
    const filterId = uid("log-kind");
    this.kind = "";
    this.select = h(
      "select",
      { id: filterId, onchange: () => this.filter(this.select.value) },
      h("option", { value: "" }, "All kinds"),
      KINDS.map((kind) => h("option", { value: kind }, kind.replace("_", " "))),
    );
    this.list = h("ol", {
      class: "event-log",
      role: "log",
      "aria-label": "Events, newest first",
      reversed: true,
    });
    this.element = h(
      "div",
      { class: "events" },
      h("div", { class: "filter" }, h("label", { for: filterId }, "Show "), this.select),
      this.list,
    );
  }

  add(name, data, cursor) {
    const kind = name.split(".")[0];
    const entry = h(
      "li",
      { dataset: { kind, event: name }, hidden: this.kind !== "" && this.kind !== kind },
      h("time", {}, clock()),
      " ",
      h("code", {}, name),
      " ",
      describe(name, data),
      cursor &&
        !name.startsWith("presence") &&
        !name.startsWith("lock") &&
        !name.startsWith("stream")
        ? h("span", { class: "cursor" }, ` #${cursor}`)
        : null,
    );
    this.list.prepend(entry);
    while (this.list.children.length > MAX_ENTRIES) this.list.lastChild.remove();
  }

  /** A note of the console's own (connection state), as kind `stream`. */
  note(text) {
    this.add("stream.note", { message: text });
  }

  filter(kind) {
    this.kind = kind;
    for (const entry of this.list.children)
      entry.hidden = kind !== "" && entry.dataset.kind !== kind;
  }
}
