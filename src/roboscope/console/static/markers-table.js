// The markers of a session as a table: label, version, the details the server computed
// (centre, edges and sizes: POST /markers/{id}/details/calculate), the corners, sortable by
// any column. A label edit sends the version it was read at: when someone else changed the
// marker meanwhile, the 409 is shown as "changed by someone else" with the fresh value, and
// the typed label stays in the field until it is saved over the fresh one or discarded.

import { api, ApiError } from "./api.js";
import { h, number, point, problem, when } from "./dom.js";

const COLUMNS = [
  { key: "label", title: "Label", value: (m) => (m.label || "").toLowerCase() },
  { key: "version", title: "Version", value: (m) => m.version },
  { key: "cross", title: "Centre x", value: (m) => m.details?.center_location_cross },
  { key: "long", title: "Centre z", value: (m) => m.details?.center_location_long },
  { key: "cross_size", title: "Size x", value: (m) => m.details?.cross_size },
  { key: "long_size", title: "Size z", value: (m) => m.details?.long_size },
  { key: "x_range", title: "x from – to", value: (m) => m.details?.x_negative },
  { key: "z_range", title: "z from – to", value: (m) => m.details?.z_negative },
  { key: "corners", title: "Corners p1–p4 (x, y, z)", sortable: false },
  { key: "updated", title: "Updated", value: (m) => m.updated_at },
];

function compare(a, b) {
  if (a === b) return 0;
  if (a === undefined || a === null) return 1; // missing values last
  if (b === undefined || b === null) return -1;
  return a < b ? -1 : 1;
}

export class MarkersTable {
  /** `canWrite`: the caller may edit (write scope, or auth off). */
  constructor({ canWrite, onChanged }) {
    this.canWrite = canWrite;
    this.onChanged = onChanged;
    this.markers = new Map();
    this.rows = new Map();
    this.reordering = false;
    this.sort = { key: "label", direction: 1 };
    this.headers = new Map();
    this.body = h("tbody");
    const headRow = h("tr");
    for (const column of COLUMNS) {
      const cell = h("th", { scope: "col" });
      if (column.sortable === false) cell.append(column.title);
      else {
        cell.append(
          h(
            "button",
            { type: "button", class: "sort", onclick: () => this.sortBy(column.key) },
            column.title,
          ),
        );
      }
      this.headers.set(column.key, cell);
      headRow.append(cell);
    }
    this.empty = h("p", { class: "empty" }, "No markers yet.");
    this.element = h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        { class: "markers" },
        h("caption", { class: "visually-hidden" }, "Markers"),
        h("thead", {}, headRow),
        this.body,
      ),
      this.empty,
    );
    this.showSort();
  }

  reset(markers) {
    this.markers = new Map(markers.map((marker) => [marker.id, marker]));
    for (const row of this.rows.values()) row.element.remove();
    this.rows.clear();
    for (const marker of markers) this.upsert(marker, false);
    this.order();
  }

  /** A marker created or changed (by anyone): its row follows, an edit in progress stays. */
  upsert(marker, reorder = true) {
    this.markers.set(marker.id, marker);
    let row = this.rows.get(marker.id);
    if (!row) {
      row = { element: h("tr", { dataset: { markerId: marker.id } }), editing: null };
      this.rows.set(marker.id, row);
      this.body.append(row.element);
    }
    this.renderRow(marker, row, false);
    if (reorder) this.reorder();
  }

  /** Sort at the next frame: a burst of events costs one ordering. */
  reorder() {
    if (this.reordering) return;
    this.reordering = true;
    requestAnimationFrame(() => {
      this.reordering = false;
      this.order();
    });
  }

  remove(id) {
    this.markers.delete(id);
    const row = this.rows.get(id);
    if (!row) return;
    row.element.remove();
    this.rows.delete(id);
    this.empty.hidden = this.rows.size > 0;
  }

  sortBy(key) {
    this.sort = { key, direction: this.sort.key === key ? -this.sort.direction : 1 };
    this.showSort();
    this.order();
  }

  showSort() {
    for (const [key, cell] of this.headers) {
      if (key === this.sort.key) {
        cell.setAttribute("aria-sort", this.sort.direction > 0 ? "ascending" : "descending");
      } else if (COLUMNS.find((c) => c.key === key).sortable !== false) {
        cell.setAttribute("aria-sort", "none");
      }
    }
  }

  order() {
    const column = COLUMNS.find((c) => c.key === this.sort.key);
    const sorted = [...this.markers.values()].sort(
      (a, b) =>
        this.sort.direction * compare(column.value(a), column.value(b)) ||
        compare(a.created_at, b.created_at),
    );
    const focused = document.activeElement;
    let previous = null;
    for (const marker of sorted) {
      const element = this.rows.get(marker.id).element;
      const expected = previous ? previous.nextSibling : this.body.firstChild;
      if (element !== expected) this.body.insertBefore(element, expected);
      previous = element;
    }
    if (focused && focused !== document.activeElement && document.contains(focused))
      focused.focus();
    this.empty.hidden = this.rows.size > 0;
  }

  /** `relabel`: redraw the label cell even while it has the focus (the edit's state moved). */
  renderRow(marker, row, relabel) {
    const d = marker.details;
    const label = this.labelCell(marker, row);
    const cells = [
      label,
      h("td", { class: "num" }, String(marker.version)),
      h("td", { class: "num" }, number(d?.center_location_cross)),
      h("td", { class: "num" }, number(d?.center_location_long)),
      h("td", { class: "num" }, number(d?.cross_size)),
      h("td", { class: "num" }, number(d?.long_size)),
      h(
        "td",
        { class: "num" },
        d ? `${number(d.x_negative)} – ${number(d.x_positive)}` : this.calculateButton(marker),
      ),
      h("td", { class: "num" }, d ? `${number(d.z_negative)} – ${number(d.z_positive)}` : "—"),
      h(
        "td",
        { class: "corners" },
        [marker.p1, marker.p2, marker.p3, marker.p4].map((p, i) =>
          h("div", {}, `p${i + 1} ${point(p)}`),
        ),
      ),
      h("td", {}, when(marker.updated_at)),
    ];
    const focused = row.element.contains(document.activeElement) ? document.activeElement : null;
    const labelCell = row.element.firstChild;
    if (!relabel && focused && labelCell && labelCell.contains(focused)) {
      // Keep the cell being typed in; refresh the others.
      [...row.element.children].slice(1).forEach((cell, i) => cell.replaceWith(cells[i + 1]));
    } else {
      row.element.replaceChildren(...cells);
    }
  }

  calculateButton(marker) {
    if (!this.canWrite) return "not calculated";
    return h(
      "button",
      {
        type: "button",
        "aria-label": `Calculate the details of ${marker.label || "this marker"}`,
        onclick: async (event) => {
          event.target.disabled = true;
          try {
            // The stream brings the details (details.created) to every viewer, this one too.
            await api.post(`markers/${marker.id}/details/calculate`, {});
          } catch (error) {
            event.target.disabled = false;
            event.target.title = problem(error);
          }
        },
      },
      "Calculate",
    );
  }

  labelCell(marker, row) {
    const cell = h("td", { class: "label-cell" });
    const name = marker.label || "(no label)";
    if (!row.editing) {
      cell.append(h("span", { class: marker.label ? "label" : "label missing" }, name));
      if (this.canWrite) {
        cell.append(
          h(
            "button",
            {
              type: "button",
              class: "edit",
              "aria-label": `Edit label of ${name}`,
              onclick: () => this.startEdit(marker.id),
            },
            "Edit",
          ),
        );
      }
      return cell;
    }
    const edit = row.editing;
    const input = h("input", {
      type: "text",
      value: edit.draft,
      "aria-label": `New label for ${name}`,
      oninput: (event) => {
        edit.draft = event.target.value;
      },
      onkeydown: (event) => {
        if (event.key === "Escape") this.cancelEdit(marker.id);
      },
    });
    const form = h(
      "form",
      {
        class: "label-edit",
        onsubmit: (event) => {
          event.preventDefault();
          this.save(marker.id);
        },
      },
      input,
      h("button", { type: "submit" }, edit.conflict ? "Save mine anyway" : "Save"),
      h(
        "button",
        { type: "button", onclick: () => this.cancelEdit(marker.id) },
        edit.conflict ? "Keep theirs" : "Cancel",
      ),
    );
    cell.append(form);
    if (edit.conflict) {
      cell.append(
        h(
          "div",
          { class: "conflict", role: "alert" },
          h("strong", {}, "Changed by someone else. "),
          "The label is now ",
          h("q", { class: "fresh-label" }, edit.conflict.label ?? "(no label)"),
          ` (version ${edit.conflict.version}). Your label was not saved.`,
        ),
      );
    } else if (edit.error) {
      cell.append(h("p", { class: "error", role: "alert" }, edit.error));
    }
    edit.input = input;
    return cell;
  }

  startEdit(id) {
    const marker = this.markers.get(id);
    const row = this.rows.get(id);
    row.editing = {
      draft: marker.label || "",
      version: marker.version,
      conflict: null,
      error: null,
    };
    this.renderRow(marker, row, true);
    row.editing.input.focus();
    row.editing.input.select();
  }

  cancelEdit(id) {
    const row = this.rows.get(id);
    if (!row) return;
    row.editing = null;
    this.renderRow(this.markers.get(id), row, true);
    row.element.querySelector("button.edit")?.focus();
  }

  /** Show the edit's new state (an error, a conflict) and give the field its focus back. */
  redrawEdit(id) {
    const row = this.rows.get(id);
    if (!row || !row.editing) return;
    this.renderRow(this.markers.get(id), row, true);
    row.editing.input.focus();
  }

  async save(id) {
    const row = this.rows.get(id);
    const edit = row?.editing;
    if (!edit) return;
    const label = edit.draft.trim() === "" ? null : edit.draft;
    edit.error = null;
    try {
      // The version the label was read at (or the fresh one, after a conflict was shown).
      const saved = await api.patch(`markers/${id}`, { label, version: edit.version });
      if (!this.rows.has(id) || row.editing !== edit) return;
      row.editing = null;
      this.onChanged(saved);
      this.renderRow(this.markers.get(id), row, true);
      row.element.querySelector("button.edit")?.focus();
    } catch (error) {
      if (!this.rows.has(id) || row.editing !== edit) return;
      if (error instanceof ApiError && error.code === "version_conflict") {
        await this.showConflict(id, edit);
      } else if (error instanceof ApiError && error.status === 404) {
        edit.error = "This marker was deleted by someone else.";
        this.redrawEdit(id);
      } else {
        edit.error = `Not saved: ${problem(error)}`;
        this.redrawEdit(id);
      }
    }
  }

  async showConflict(id, edit) {
    let fresh;
    try {
      fresh = await api.get(`markers/${id}`);
    } catch (error) {
      edit.error = `Changed by someone else; the fresh value could not be read: ${problem(error)}`;
      this.redrawEdit(id);
      return;
    }
    const row = this.rows.get(id);
    if (!row || row.editing !== edit) return;
    edit.conflict = { label: fresh.label, version: fresh.version };
    edit.version = fresh.version; // "Save mine anyway" now overwrites knowingly
    this.onChanged(fresh);
    this.redrawEdit(id);
  }
}
