// A top-down map of a session's markers: x across (to the right), z along (upwards), each
// marker its four corners (p1–p4) as a polygon with its label. Scaled to fit until the user
// zooms or pans (wheel, drag, the buttons, or the keyboard on the focused map: + - 0 and
// the arrow keys); "Fit" scales to fit again. Labels keep their size at any zoom.

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const FLASH_MS = 1500;
const LEAVE_MS = 600;
const MARGIN = 0.08;
const ZOOM_STEP = 1.25;
const PAN_STEP_PX = 60;
const GRID_TARGET_PX = 60;

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

function corners(marker) {
  return [marker.p1, marker.p2, marker.p3, marker.p4];
}

/** The grid spacing (1, 2 or 5 × 10^n world units) nearest to `target` pixels apart. */
function gridStep(scale) {
  const raw = GRID_TARGET_PX / scale;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= raw) return factor * power;
  return 10 * power;
}

export class MarkerMap {
  constructor() {
    this.markers = new Map();
    this.shapes = new Map();
    this.view = { x: 0, z: 0, scale: 50 };
    this.fitted = true;
    this.refitting = false;
    this.width = 600;
    this.height = 400;

    this.grid = svg("g", { class: "map-grid" });
    this.layer = svg("g", { class: "map-markers" });
    this.svg = svg("svg", { class: "map-canvas", "aria-hidden": "true" });
    this.svg.append(this.grid, this.layer);
    this.scaleNote = h("span", { class: "map-scale" });
    this.canvas = h(
      "div",
      {
        class: "map-viewport",
        tabindex: "0",
        role: "application",
        "aria-roledescription": "map",
        "aria-label":
          "Top-down map of the markers, x across and z up. Keys: plus and minus zoom, " +
          "arrows pan, 0 fits. The markers table lists the same markers.",
        onkeydown: (event) => this.key(event),
      },
      this.svg,
    );
    this.element = h(
      "div",
      { class: "map" },
      h(
        "div",
        { class: "map-tools", role: "toolbar", "aria-label": "Map" },
        h("button", { type: "button", onclick: () => this.zoomBy(ZOOM_STEP) }, "Zoom in"),
        h("button", { type: "button", onclick: () => this.zoomBy(1 / ZOOM_STEP) }, "Zoom out"),
        h("button", { type: "button", onclick: () => this.fit() }, "Fit"),
        this.scaleNote,
      ),
      this.canvas,
    );
    this.listen();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
  }

  listen() {
    let drag = null;
    this.canvas.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, view: { ...this.view } };
      this.canvas.setPointerCapture(event.pointerId);
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) < 2) return;
      this.fitted = false;
      this.view = {
        ...drag.view,
        x: drag.view.x - dx / drag.view.scale,
        z: drag.view.z + dy / drag.view.scale,
      };
      this.render();
    });
    const end = () => {
      drag = null;
    };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
    this.canvas.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const box = this.canvas.getBoundingClientRect();
        const factor = event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP;
        this.zoomBy(factor, event.clientX - box.left, event.clientY - box.top);
      },
      { passive: false },
    );
  }

  key(event) {
    const pan = PAN_STEP_PX / this.view.scale;
    const moves = {
      ArrowLeft: [-pan, 0],
      ArrowRight: [pan, 0],
      ArrowUp: [0, pan],
      ArrowDown: [0, -pan],
    };
    if (event.key === "+" || event.key === "=") this.zoomBy(ZOOM_STEP);
    else if (event.key === "-" || event.key === "_") this.zoomBy(1 / ZOOM_STEP);
    else if (event.key === "0") this.fit();
    else if (moves[event.key]) {
      const [dx, dz] = moves[event.key];
      this.fitted = false;
      this.view = { ...this.view, x: this.view.x + dx, z: this.view.z + dz };
      this.render();
    } else return;
    event.preventDefault();
  }

  /** Zoom around a point of the canvas (its centre by default), keeping that point still. */
  zoomBy(factor, px = this.width / 2, py = this.height / 2) {
    const [wx, wz] = this.toWorld(px, py);
    const scale = Math.min(Math.max(this.view.scale * factor, 1e-3), 1e6);
    this.fitted = false;
    this.view = {
      scale,
      x: wx - (px - this.width / 2) / scale,
      z: wz + (py - this.height / 2) / scale,
    };
    this.render();
  }

  toScreen([x, , z]) {
    return [
      (x - this.view.x) * this.view.scale + this.width / 2,
      this.height / 2 - (z - this.view.z) * this.view.scale,
    ];
  }

  toWorld(px, py) {
    return [
      this.view.x + (px - this.width / 2) / this.view.scale,
      this.view.z - (py - this.height / 2) / this.view.scale,
    ];
  }

  resize() {
    const box = this.canvas.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) return;
    this.width = box.width;
    this.height = box.height;
    this.svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    if (this.fitted) this.fit();
    else this.render();
  }

  /** Scale and centre so that every marker shows. */
  fit() {
    this.fitted = true;
    let minX = Infinity;
    let maxX = -Infinity;
    let minZ = Infinity;
    let maxZ = -Infinity;
    for (const marker of this.markers.values()) {
      for (const [x, , z] of corners(marker)) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minZ = Math.min(minZ, z);
        maxZ = Math.max(maxZ, z);
      }
    }
    if (!Number.isFinite(minX)) {
      minX = -5;
      maxX = 5;
      minZ = -5;
      maxZ = 5;
    }
    const spanX = Math.max(maxX - minX, 1);
    const spanZ = Math.max(maxZ - minZ, 1);
    const usable = 1 - 2 * MARGIN;
    this.view = {
      x: (minX + maxX) / 2,
      z: (minZ + maxZ) / 2,
      scale: Math.min((this.width * usable) / spanX, (this.height * usable) / spanZ),
    };
    this.render();
  }

  /** Replace every marker (a snapshot). */
  reset(markers) {
    this.markers = new Map(markers.map((marker) => [marker.id, marker]));
    for (const shape of this.shapes.values()) shape.remove();
    this.shapes.clear();
    for (const marker of markers) this.shapes.set(marker.id, this.shape(marker));
    if (this.fitted) this.fit();
    else this.render();
  }

  /** A marker created or changed; `flash` highlights it briefly. */
  upsert(marker, flash = true) {
    this.markers.set(marker.id, marker);
    let shape = this.shapes.get(marker.id);
    if (!shape) {
      shape = this.shape(marker);
      this.shapes.set(marker.id, shape);
    }
    if (this.fitted) this.refit();
    else this.place(marker, shape);
    if (flash) this.flash(shape);
  }

  remove(id) {
    this.markers.delete(id);
    const shape = this.shapes.get(id);
    if (!shape) return;
    this.shapes.delete(id);
    shape.classList.add("leaving");
    setTimeout(() => shape.remove(), LEAVE_MS);
    if (this.fitted) this.refit();
  }

  /** Fit again at the next frame: a burst of events (a bulk create) costs one fit. */
  refit() {
    if (this.refitting) return;
    this.refitting = true;
    requestAnimationFrame(() => {
      this.refitting = false;
      if (this.fitted) this.fit();
    });
  }

  flash(shape) {
    shape.classList.remove("flash");
    void shape.getBoundingClientRect(); // restart the animation
    shape.classList.add("flash");
    clearTimeout(shape.flashTimer);
    shape.flashTimer = setTimeout(() => shape.classList.remove("flash"), FLASH_MS);
  }

  shape(marker) {
    const group = svg("g", { class: "marker" });
    group.dataset.markerId = marker.id;
    group.append(svg("title"), svg("polygon"), svg("text", { class: "marker-label" }));
    this.layer.append(group);
    this.place(marker, group);
    return group;
  }

  place(marker, shape) {
    const [title, polygon, label] = shape.children;
    title.textContent = marker.label || "(no label)";
    const points = corners(marker).map((p) => this.toScreen(p));
    polygon.setAttribute(
      "points",
      points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
    );
    if (marker.color && /^#[0-9a-f]{3,8}$/i.test(marker.color)) {
      polygon.setAttribute("fill", marker.color);
    } else polygon.removeAttribute("fill");
    const cx = points.reduce((sum, [x]) => sum + x, 0) / 4;
    const cy = points.reduce((sum, [, y]) => sum + y, 0) / 4;
    label.setAttribute("x", cx.toFixed(1));
    label.setAttribute("y", cy.toFixed(1));
    label.textContent = marker.label || "";
  }

  render() {
    this.renderGrid();
    for (const [id, shape] of this.shapes) this.place(this.markers.get(id), shape);
  }

  renderGrid() {
    const step = gridStep(this.view.scale);
    const [left, top] = this.toWorld(0, 0);
    const [right, bottom] = this.toWorld(this.width, this.height);
    const lines = [];
    for (let x = Math.ceil(left / step) * step; x <= right; x += step) {
      const [px] = this.toScreen([x, 0, 0]);
      lines.push(
        svg("line", {
          x1: px,
          x2: px,
          y1: 0,
          y2: this.height,
          class: Math.abs(x) < step / 2 ? "axis" : "",
        }),
      );
    }
    for (let z = Math.ceil(bottom / step) * step; z <= top; z += step) {
      const [, py] = this.toScreen([0, 0, z]);
      lines.push(
        svg("line", {
          y1: py,
          y2: py,
          x1: 0,
          x2: this.width,
          class: Math.abs(z) < step / 2 ? "axis" : "",
        }),
      );
    }
    this.grid.replaceChildren(...lines);
    this.scaleNote.textContent = `Grid: ${Number(step.toPrecision(3))} m`;
  }
}
