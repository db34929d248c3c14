// The session's edit lock: free or held, by whom, its fence, and a countdown to its expiry.
// lock.snapshot gives the state on (re)connect; lock.acquired, .extended, .released and
// .expired change it (never with the lock's token, which only its holder ever sees). An
// admin (or anyone, with auth off) can force a release: the holder's token stops working.

import { api, serverNow } from "./api.js";
import { duration, fill, h, problem } from "./dom.js";

export class LockPanel {
  constructor({ sessionId, canForce }) {
    this.sessionId = sessionId;
    this.state = { locked: false };
    this.last = null; // how the lock was last freed
    this.status = h("p", { class: "lock-state" });
    this.countdown = h("p", { class: "countdown" });
    this.message = h("p", { class: "message", role: "status" });
    this.button = canForce
      ? h(
          "button",
          { type: "button", class: "danger", onclick: () => this.forceRelease() },
          "Force release",
        )
      : null;
    this.element = h(
      "div",
      { class: "lock" },
      this.status,
      this.countdown,
      this.button,
      this.message,
    );
    this.render();
  }

  apply(name, data) {
    if (name === "lock.snapshot") {
      this.state = data.locked
        ? {
            locked: true,
            owner: data.owner,
            fence: data.fence,
            expires: serverNow() + (data.ttl_remaining_ms ?? 0),
          }
        : { locked: false };
    } else if (name === "lock.acquired" || name === "lock.extended") {
      this.state = {
        locked: true,
        owner: data.owner,
        fence: data.fence,
        expires: Date.parse(data.expires_at),
      };
      this.last = null;
    } else if (name === "lock.released" || name === "lock.expired") {
      this.state = { locked: false };
      this.last =
        name === "lock.expired"
          ? "expired"
          : data.reason === "forced"
            ? "force-released"
            : "released by its holder";
    }
    this.render();
  }

  render() {
    const s = this.state;
    this.element.classList.toggle("held", s.locked);
    if (s.locked) {
      fill(
        this.status,
        h("strong", {}, "Held"),
        " by ",
        h("span", { class: "owner" }, s.owner || "an unnamed holder"),
        ` · fence ${s.fence ?? "—"}`,
      );
    } else {
      fill(this.status, h("strong", {}, "Free"), this.last ? ` (${this.last})` : "");
    }
    if (this.button) this.button.disabled = !s.locked;
    this.tick();
  }

  /** Once a second: the countdown. */
  tick() {
    if (!this.state.locked) {
      this.countdown.textContent = "";
      return;
    }
    const left = this.state.expires - serverNow();
    this.countdown.textContent = left > 0 ? `Expires in ${duration(left + 999)}` : "Expiring…";
  }

  async forceRelease() {
    this.button.disabled = true;
    this.message.textContent = "";
    try {
      const answer = await api.post(`locks/${this.sessionId}/force-release`);
      this.message.textContent = answer.released ? "Released." : "It was already free.";
    } catch (error) {
      this.message.textContent = `Not released: ${problem(error)}`;
      this.button.disabled = !this.state.locked;
    }
  }
}
