// One space: its work sessions (filtered by status and type) with their counts of markers
// and of people present, its laser guide and its reference sets.

import { api, ApiError } from "./api.js";
import { fill, h, problem, shortId, uid, when } from "./dom.js";

const STATUSES = ["draft", "active", "done", "archived"];
const TYPES = ["inspection", "repair", "other"];
const COUNT_CONCURRENCY = 4;

function choice(label, values, selected, onchange) {
  const id = uid("filter");
  const select = h(
    "select",
    { id, onchange: () => onchange(select.value) },
    h("option", { value: "" }, "Any"),
    values.map((value) => h("option", { value, selected: value === selected }, value)),
  );
  return h("div", { class: "field" }, h("label", { for: id }, label), select);
}

/** Run `jobs` (functions returning promises), at most `limit` at a time. */
async function limited(jobs, limit) {
  const queue = [...jobs];
  const worker = async () => {
    while (queue.length) await queue.shift()();
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
}

export async function showSpace(main, identity, ui, spaceId) {
  ui.title("Space");
  let space;
  try {
    space = await api.get(`spaces/${spaceId}`);
  } catch (error) {
    ui.failed(error, `Space ${spaceId} could not be loaded`);
    return;
  }
  ui.title(space.name);
  ui.crumbs([{ label: "Spaces", href: "." }, { label: space.name }]);
  const params = new URLSearchParams(location.search);
  const filters = { status: params.get("status") || "", session_type: params.get("type") || "" };
  const summary = h("p", { class: "summary", role: "status" }, "Loading…");
  const body = h("tbody");
  let generation = 0;

  function remember() {
    const query = new URLSearchParams();
    if (filters.status) query.set("status", filters.status);
    if (filters.session_type) query.set("type", filters.session_type);
    const search = query.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  }

  async function loadSessions() {
    const mine = ++generation;
    summary.textContent = "Loading…";
    let sessions;
    try {
      sessions = await api.get("work-sessions", { space_id: spaceId, ...filters });
    } catch (error) {
      summary.textContent = `The work sessions could not be loaded: ${problem(error)}`;
      return;
    }
    if (mine !== generation) return;
    summary.textContent = `${sessions.length} work ${sessions.length === 1 ? "session" : "sessions"}`;
    const rows = sessions.map((session) => {
      const markers = h("td", { class: "num markers-count" }, "…");
      const present = h("td", { class: "num present-count" }, "…");
      const row = h(
        "tr",
        { dataset: { sessionId: session.id } },
        h(
          "td",
          {},
          h("a", { href: `work-sessions/${session.id}` }, `Session ${shortId(session.id)}`),
        ),
        h("td", {}, h("span", { class: `badge status-${session.status}` }, session.status)),
        h("td", {}, session.session_type),
        markers,
        present,
        h("td", {}, when(session.started_at)),
        h("td", {}, when(session.updated_at)),
      );
      const count = async () => {
        if (mine !== generation) return;
        try {
          const [list, presence] = await Promise.all([
            api.get(`work-sessions/${session.id}/markers`),
            api.get(`presence/${session.id}`),
          ]);
          markers.textContent = String(list.length);
          present.textContent =
            presence.user_count === 0
              ? "0"
              : `${presence.user_count} (${presence.device_count} ${presence.device_count === 1 ? "device" : "devices"})`;
        } catch {
          markers.textContent = "?";
          present.textContent = "?";
        }
      };
      return { row, count };
    });
    body.replaceChildren(...rows.map(({ row }) => row));
    await limited(
      rows.map(({ count }) => count),
      COUNT_CONCURRENCY,
    );
  }

  const laser = h("div", { class: "laser-guide" }, "Loading…");
  const references = h("div", { class: "reference-sets" }, "Loading…");

  fill(
    main,
    h("h1", {}, space.name),
    h(
      "p",
      { class: "facts" },
      h("code", {}, space.key),
      " · ",
      space.is_active ? "active" : "inactive",
      ` · updated ${when(space.updated_at)}`,
    ),
    space.description ? h("p", { class: "description" }, space.description) : null,
    h(
      "section",
      { class: "panel", "aria-labelledby": "sessions-title" },
      h("h2", { id: "sessions-title" }, "Work sessions"),
      h(
        "div",
        { class: "toolbar" },
        choice("Status", STATUSES, filters.status, (value) => {
          filters.status = value;
          remember();
          loadSessions();
        }),
        choice("Type", TYPES, filters.session_type, (value) => {
          filters.session_type = value;
          remember();
          loadSessions();
        }),
      ),
      summary,
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "sessions" },
          h("caption", { class: "visually-hidden" }, "Work sessions"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Session", "Status", "Type", "Markers", "Present", "Started", "Updated"].map(
                (title) => h("th", { scope: "col" }, title),
              ),
            ),
          ),
          body,
        ),
      ),
    ),
    h(
      "div",
      { class: "two-columns" },
      h(
        "section",
        { class: "panel", "aria-labelledby": "laser-title" },
        h("h2", { id: "laser-title" }, "Laser guide"),
        laser,
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "references-title" },
        h("h2", { id: "references-title" }, "Reference sets"),
        references,
      ),
    ),
  );
  await Promise.all([
    loadSessions(),
    showLaserGuide(spaceId, laser),
    showReferenceSets(spaceId, references),
  ]);
}

async function showLaserGuide(spaceId, target) {
  let guide;
  try {
    guide = await api.get(`spaces/${spaceId}/laser-guide`);
  } catch (error) {
    target.textContent =
      error instanceof ApiError && error.status === 404 ? "None." : `Not loaded: ${problem(error)}`;
    return;
  }
  const lines = guide.grid.length;
  fill(
    target,
    h("p", {}, `${lines} ${lines === 1 ? "line" : "lines"} · updated ${when(guide.updated_at)}`),
    lines
      ? h(
          "ul",
          { class: "compact" },
          guide.grid
            .slice(0, 10)
            .map((line) => h("li", {}, `x ${line.x}, z ${line.z}, segment ${line.segment_length}`)),
          lines > 10 ? h("li", {}, `… and ${lines - 10} more`) : null,
        )
      : null,
  );
}

async function showReferenceSets(spaceId, target) {
  let sets;
  try {
    sets = await api.get(`spaces/${spaceId}/reference-sets`);
  } catch (error) {
    target.textContent = `Not loaded: ${problem(error)}`;
    return;
  }
  if (sets.length === 0) {
    target.textContent = "None.";
    return;
  }
  fill(
    target,
    h(
      "ul",
      { class: "compact" },
      sets.map((set) =>
        h(
          "li",
          {},
          h("strong", {}, set.name),
          ` · ${set.markers.length} ${set.markers.length === 1 ? "marker" : "markers"} · version ${set.version}`,
          set.description ? h("div", { class: "muted" }, set.description) : null,
        ),
      ),
    ),
  );
}
