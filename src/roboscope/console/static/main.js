// The console's entry: who is calling (GET /whoami; a token is asked for when the server
// requires one), then the view of this path: /console (spaces), /console/spaces/{id} (one
// space), /console/work-sessions/{id} (a session, live).

import {
  api,
  ApiError,
  authEvents,
  forgetToken,
  storedToken,
  storeToken,
  Unreachable,
} from "./api.js";
import { fill, h, problem, uid } from "./dom.js";
import { showSession } from "./session.js";
import { showSpace } from "./space.js";
import { showSpaces } from "./spaces.js";

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const who = document.getElementById("who");
const banner = document.getElementById("banner");
const forget = document.getElementById("forget-token");

const ROUTES = [
  [/^$/, showSpaces],
  [/^spaces\/([^/]+)$/, showSpace],
  [/^work-sessions\/([^/]+)$/, showSession],
];

let askingForToken = false;

const ui = {
  title(text) {
    document.title = `${text} · Roboscope console`;
  },
  crumbs(items) {
    fill(
      crumbs,
      ...items.map((item, index) =>
        h(
          "li",
          {},
          index === items.length - 1
            ? h("span", { "aria-current": "page" }, item.label)
            : h("a", { href: item.href }, item.label),
        ),
      ),
    );
  },
  /** A banner over every view (`null` clears it); role=status, so it is announced. */
  banner(text, tone = "info") {
    banner.textContent = text || "";
    banner.className = text ? `banner ${tone}` : "";
  },
  failed(error, what) {
    if (error instanceof ApiError && error.status === 401) return; // the token form shows
    fill(
      main,
      h("h1", {}, what),
      h(
        "p",
        { role: "alert" },
        error instanceof ApiError && error.status === 404 ? "It does not exist." : problem(error),
      ),
      h("p", {}, h("a", { href: "." }, "Back to the spaces")),
    );
  },
  unauthorized(error) {
    askForToken(error);
  },
};

function path() {
  const base = new URL(document.baseURI).pathname;
  const here = location.pathname;
  return here.startsWith(base) ? here.slice(base.length) : "";
}

function showIdentity(identity) {
  if (identity.auth === "off") {
    who.textContent = "Open access (auth off)";
  } else {
    const tokenName = identity.token ? identity.token.name : "";
    const name = identity.user_id ? `${tokenName} (${identity.user_id})` : tokenName;
    who.textContent = `${name} · ${identity.scope} scope`;
  }
  forget.hidden = !storedToken();
}

function askForToken(error) {
  const refused = storedToken() !== null;
  forgetToken();
  forget.hidden = true;
  who.textContent = "";
  ui.banner(null);
  if (askingForToken) return;
  askingForToken = true;
  ui.title("API token needed");
  ui.crumbs([]);
  const inputId = uid("token");
  const input = h("input", {
    id: inputId,
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const message = h(
    "p",
    { class: "error", role: "alert" },
    refused ? `The token was refused: ${problem(error)}` : "",
  );
  fill(
    main,
    h(
      "form",
      {
        class: "token-form",
        method: "post",
        "aria-labelledby": "token-title",
        onsubmit: (event) => {
          event.preventDefault();
          const token = input.value.trim();
          input.value = "";
          if (!token) return;
          storeToken(token);
          location.reload(); // afresh: nothing of a view that ran with the old token survives
        },
      },
      h("h1", { id: "token-title" }, "This server needs an API token"),
      h(
        "p",
        {},
        "It runs with ROBOSCOPE_AUTH=required. Paste an API token (",
        h("code", {}, "roboscope tokens create NAME --scope read"),
        "; read scope can look, write scope edits, admin scope also forces lock releases). ",
        "The console keeps it for this browser tab only.",
      ),
      h("label", { for: inputId }, "API token"),
      input,
      h("button", { type: "submit" }, "Open the console"),
      message,
    ),
  );
  input.focus();
}

async function start() {
  fill(main, h("p", {}, "Loading…"));
  let identity;
  try {
    identity = await api.get("whoami");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // askForToken runs
    fill(
      main,
      h("h1", {}, "The API does not answer"),
      h(
        "p",
        { role: "alert" },
        error instanceof Unreachable ? "The server cannot be reached." : problem(error),
      ),
      h("button", { type: "button", onclick: () => start() }, "Try again"),
    );
    return;
  }
  showIdentity(identity);
  const here = path();
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(here);
    if (match) {
      await view(main, identity, ui, ...match.slice(1).map(decodeURIComponent));
      return;
    }
  }
  ui.failed(new ApiError(404, { message: "No such page." }), "Not found");
}

authEvents.addEventListener("unauthorized", (event) => askForToken(event.detail));
forget.addEventListener("click", () => {
  forgetToken();
  location.reload();
});
start();
