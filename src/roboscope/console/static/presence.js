// Who is in the session: users and their devices, and the time since each user's last
// heartbeat. The stream's presence.snapshot gives the state on (re)connect; presence.joined,
// .updated and .left change it as they happen (`left` with reason `expired` when a device
// stopped beating). Heartbeats themselves are not events, so the ages are refreshed from
// GET /presence/{id} every few seconds (`refresh`).

import { serverNow } from "./api.js";
import { duration, h } from "./dom.js";

export class PresencePanel {
  constructor() {
    this.users = new Map(); // user_id -> {displayName, devices: Set, lastSeen (ms, server clock)}
    this.summary = h("p", { class: "summary" });
    this.list = h("ul", { class: "presence-list" });
    this.element = h("div", { class: "presence" }, this.summary, this.list);
    this.render();
  }

  /** A presence.snapshot (or GET /presence/{id}): the whole state. */
  reset(snapshot) {
    this.users = new Map();
    for (const member of snapshot.members || []) {
      this.users.set(member.user_id, {
        displayName: member.display_name || null,
        devices: new Set(member.devices),
        lastSeen: Date.parse(member.last_seen),
      });
    }
    this.render();
  }

  /** Fresh heartbeat times for the users already shown (joins and leaves come by stream). */
  refresh(snapshot) {
    for (const member of snapshot.members || []) {
      const user = this.users.get(member.user_id);
      if (user) user.lastSeen = Math.max(user.lastSeen, Date.parse(member.last_seen));
    }
    this.tick();
  }

  apply(name, data) {
    let user = this.users.get(data.user_id);
    if (name === "presence.joined" || name === "presence.updated") {
      if (!user) {
        user = { displayName: null, devices: new Set(), lastSeen: serverNow() };
        this.users.set(data.user_id, user);
      }
      user.devices.add(data.device_id);
      if (data.display_name) user.displayName = data.display_name;
      user.lastSeen = serverNow(); // announced by the heartbeat that made the change
    } else if (name === "presence.left" && user) {
      user.devices.delete(data.device_id);
      if (user.devices.size === 0) this.users.delete(data.user_id);
    }
    this.render();
  }

  render() {
    const devices = [...this.users.values()].reduce((n, user) => n + user.devices.size, 0);
    const people = this.users.size;
    this.summary.textContent =
      people === 0
        ? "Nobody is present."
        : `${people} ${people === 1 ? "person" : "people"} on ${devices} ${devices === 1 ? "device" : "devices"}`;
    const items = [...this.users.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([userId, user]) =>
        h(
          "li",
          { dataset: { userId } },
          h("span", { class: "who" }, user.displayName || userId),
          user.displayName ? h("span", { class: "user-id" }, ` (${userId})`) : null,
          h("span", { class: "age", dataset: { lastSeen: String(user.lastSeen) } }),
          h(
            "ul",
            { class: "devices", "aria-label": `Devices of ${user.displayName || userId}` },
            [...user.devices]
              .sort()
              .map((device) => h("li", { dataset: { deviceId: device } }, device)),
          ),
        ),
      );
    this.list.replaceChildren(...items);
    this.tick();
  }

  /** Once a second: the ages. */
  tick() {
    const now = serverNow();
    for (const age of this.list.querySelectorAll(".age")) {
      const user = this.users.get(age.closest("li").dataset.userId);
      if (user) age.textContent = ` · last heartbeat ${duration(now - user.lastSeen)} ago`;
    }
  }
}
