// Small DOM helpers: one element builder and the formatters every view shares.

/** An element with attributes, listeners (`onclick`) and children (nodes, text, arrays). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace every child of `parent`. */
export function fill(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

let uniqueCount = 0;
/** An id for label/aria wiring, unique in the page. */
export function uid(prefix) {
  uniqueCount += 1;
  return `${prefix}-${uniqueCount}`;
}

export function number(value, digits = 3) {
  if (value === undefined || value === null || !Number.isFinite(value)) return "—";
  return value.toFixed(digits);
}

export function point(p) {
  return p ? `(${p.map((v) => number(v, 2)).join(", ")})` : "—";
}

/** "4 s", "3 min", "2 h" for a duration in milliseconds (never negative). */
export function duration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h`;
}

/** A timestamp of the API as local date and time. */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "—" : date.toLocaleString();
}

export function clock(date = new Date()) {
  return date.toLocaleTimeString([], { hour12: false });
}

/** The last 8 hex digits of an id: its random part (ids are UUIDv7, whose first digits are
 * a timestamp, the same for everything made within a minute). */
export function shortId(id) {
  return String(id).replace(/-/g, "").slice(-8);
}

/** A message for a failed call: the API's own text, or what went wrong on the way. */
export function problem(error) {
  return error && error.message ? error.message : String(error);
}
