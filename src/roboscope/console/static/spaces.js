// The spaces: active first (inactive ones on request), searched by key or name, created,
// renamed, deactivated and reactivated. Creating a space needs admin scope, editing one
// write scope (docs/auth.md); with auth off anyone may.

import { api, idempotencyKey } from "./api.js";
import { fill, h, problem, uid, when } from "./dom.js";

function matches(space, search) {
  const needle = search.trim().toLowerCase();
  return (
    !needle || space.key.toLowerCase().includes(needle) || space.name.toLowerCase().includes(needle)
  );
}

function byActiveThenName(a, b) {
  return (
    Number(b.is_active) - Number(a.is_active) ||
    a.name.localeCompare(b.name) ||
    a.key.localeCompare(b.key)
  );
}

export async function showSpaces(main, identity, ui) {
  ui.title("Spaces");
  ui.crumbs([{ label: "Spaces" }]);
  const canWrite = identity.scope !== "read";
  const canCreate = identity.scope === "admin";
  const params = new URLSearchParams(location.search);
  let spaces = [];
  const state = { search: params.get("q") || "", inactive: params.get("inactive") === "1" };
  const editing = new Map(); // space id -> {draft, error}

  const searchId = uid("search");
  const inactiveId = uid("inactive");
  const search = h("input", {
    id: searchId,
    type: "search",
    value: state.search,
    autocomplete: "off",
    oninput: () => {
      state.search = search.value;
      remember();
      render();
    },
  });
  const inactive = h("input", {
    id: inactiveId,
    type: "checkbox",
    checked: state.inactive,
    onchange: () => {
      state.inactive = inactive.checked;
      remember();
      load();
    },
  });
  const status = h("p", { class: "summary", role: "status" }, "Loading…");
  const notice = h("p", { class: "message", role: "status" }); // what an action did
  const body = h("tbody");
  const table = h(
    "table",
    { class: "spaces" },
    h("caption", { class: "visually-hidden" }, "Spaces"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col" }, "Key"),
        h("th", { scope: "col" }, "State"),
        h("th", { scope: "col" }, "Updated"),
        canWrite
          ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions"))
          : null,
      ),
    ),
    body,
  );

  function remember() {
    const query = new URLSearchParams();
    if (state.search) query.set("q", state.search);
    if (state.inactive) query.set("inactive", "1");
    const search = query.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  }

  async function load() {
    try {
      spaces = await api.get("spaces", { include_inactive: state.inactive ? "true" : undefined });
    } catch (error) {
      status.textContent = `The spaces could not be loaded: ${problem(error)}`;
      return;
    }
    render();
  }

  function render() {
    const shown = spaces.filter((space) => matches(space, state.search)).sort(byActiveThenName);
    body.replaceChildren(...shown.map(row));
    const total = spaces.length;
    status.textContent =
      shown.length === total
        ? `${total} ${total === 1 ? "space" : "spaces"}${state.inactive ? "" : " (active only)"}`
        : `${shown.length} of ${total} spaces match “${state.search.trim()}”`;
  }

  function row(space) {
    const edit = editing.get(space.id);
    const nameCell = h("td");
    if (edit) {
      const input = h("input", {
        type: "text",
        value: edit.draft,
        required: true,
        "aria-label": `New name for ${space.name}`,
        oninput: () => {
          edit.draft = input.value;
        },
        onkeydown: (event) => {
          if (event.key === "Escape") stopEditing(space.id);
        },
      });
      nameCell.append(
        h(
          "form",
          {
            class: "inline-form",
            onsubmit: (event) => {
              event.preventDefault();
              rename(space, edit);
            },
          },
          input,
          h("button", { type: "submit" }, "Save"),
          h("button", { type: "button", onclick: () => stopEditing(space.id) }, "Cancel"),
        ),
        edit.error ? h("p", { class: "error", role: "alert" }, edit.error) : null,
      );
    } else {
      nameCell.append(h("a", { href: `spaces/${space.id}` }, space.name));
    }
    return h(
      "tr",
      { dataset: { spaceId: space.id }, class: space.is_active ? "" : "inactive" },
      nameCell,
      h("td", {}, h("code", {}, space.key)),
      h("td", {}, space.is_active ? "Active" : "Inactive"),
      h("td", {}, when(space.updated_at)),
      canWrite
        ? h(
            "td",
            { class: "actions" },
            h(
              "button",
              {
                type: "button",
                "aria-label": `Rename ${space.name}`,
                onclick: () => startEditing(space),
              },
              "Rename",
            ),
            h(
              "button",
              {
                type: "button",
                "aria-label": `${space.is_active ? "Deactivate" : "Reactivate"} ${space.name}`,
                onclick: (event) => setActive(space, !space.is_active, event.target),
              },
              space.is_active ? "Deactivate" : "Reactivate",
            ),
          )
        : null,
    );
  }

  function startEditing(space) {
    editing.set(space.id, { draft: space.name, error: null });
    render();
    body.querySelector(`tr[data-space-id="${space.id}"] input`)?.focus();
  }

  function stopEditing(id) {
    editing.delete(id);
    render();
    body.querySelector(`tr[data-space-id="${id}"] button`)?.focus();
  }

  function replace(updated) {
    spaces = spaces.map((space) => (space.id === updated.id ? updated : space));
    if (!updated.is_active && !state.inactive) spaces = spaces.filter((s) => s.id !== updated.id);
  }

  async function rename(space, edit) {
    try {
      replace(await api.patch(`spaces/${space.id}`, { name: edit.draft }));
      editing.delete(space.id);
    } catch (error) {
      edit.error = `Not renamed: ${problem(error)}`;
    }
    render();
    body
      .querySelector(`tr[data-space-id="${space.id}"] ${editing.has(space.id) ? "input" : "a"}`)
      ?.focus();
  }

  async function setActive(space, active, button) {
    button.disabled = true;
    try {
      replace(await api.patch(`spaces/${space.id}`, { is_active: active }));
      notice.textContent = `${space.name} is now ${active ? "active" : "inactive"}.`;
      render();
    } catch (error) {
      button.disabled = false;
      notice.textContent = `${space.name} was not changed: ${problem(error)}`;
    }
  }

  fill(
    main,
    h("h1", {}, "Spaces"),
    h(
      "div",
      { class: "toolbar" },
      h("div", { class: "field" }, h("label", { for: searchId }, "Search by key or name"), search),
      h(
        "div",
        { class: "check" },
        inactive,
        h("label", { for: inactiveId }, "Show inactive spaces"),
      ),
    ),
    canCreate
      ? createForm(ui, (space) => {
          spaces.push(space);
          render();
        })
      : null,
    status,
    notice,
    h("div", { class: "table-scroll" }, table),
  );
  await load();
}

function createForm(ui, created) {
  const ids = { key: uid("key"), name: uid("name"), description: uid("description") };
  const message = h("p", { class: "message", role: "status" });
  const form = h(
    "form",
    {
      class: "create-space",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const body = { key: data.get("key").trim(), name: data.get("name").trim() };
        const description = data.get("description").trim();
        if (description) body.description = description;
        try {
          const space = await api.post("spaces", body, { "Idempotency-Key": idempotencyKey() });
          created(space);
          form.reset();
          message.textContent = `Space ${space.name} created.`;
        } catch (error) {
          message.textContent = `Not created: ${problem(error)}`;
        }
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { for: ids.key }, "Key"),
      h("input", { id: ids.key, name: "key", required: true, autocomplete: "off" }),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: ids.name }, "Name"),
      h("input", { id: ids.name, name: "name", required: true, autocomplete: "off" }),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: ids.description }, "Description (optional)"),
      h("input", { id: ids.description, name: "description", autocomplete: "off" }),
    ),
    h("button", { type: "submit" }, "Create space"),
    message,
  );
  return h("details", { class: "create" }, h("summary", {}, "New space"), form);
}
