/* The search box: places (roads, named places, intersections X路与Y路, addresses such as
 * 人民路塔南路口北50米) from the gazetteer (/api/places), and assets by code, name or road.
 * A crossing or an address searches the assets around it (the radius of the panel); a
 * road or place is drawn and the assets named after it are listed; nothing found says
 * so, with what the user may have meant. The map then fits what was found. */

import { $, h, toast } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n } from "./i18n.js";
import { App, geoJSON, setPlaceLayer, toMap } from "./state.js";
import { fitResults, radiusSearch, runSearch, suggest } from "./search.js";

const PLACE_STYLE = { color: "#e65100", weight: 5, opacity: 0.75, interactive: false };

/** Draw the place found (its line or outline, and a marker with its name at its label point). */
function showPlace(f) {
  const [lon, lat] = f.properties.label;
  const marker = L.circleMarker(toMap(lon, lat), { pane: "results", radius: 7, color: "#e65100", weight: 3, fillColor: "#fff", fillOpacity: 1 });
  // The name is a marker of its own (an element inside its icon), not a permanent
  // tooltip: a tooltip opened while the map was moving could outlive its layer, and an
  // older place's name then stayed on the map after the next search.
  const label = L.marker(toMap(lon, lat), {
    pane: "results",
    interactive: false,
    keyboard: false,
    icon: L.divIcon({ className: "place-label-icon", html: h("span", { class: "place-label", text: f.properties.name }), iconSize: null }),
  });
  const shape = f.geometry.type === "Point" ? null : geoJSON(f, { pane: "results", style: () => PLACE_STYLE });
  setPlaceLayer(L.featureGroup([shape, marker, label].filter(Boolean)));
  App.placeFound = f;
}

/** The "not found, did you mean" line above the results, its suggestions clickable. */
function hint(text, suggestions) {
  let el = $("#place-hint");
  if (!el) {
    el = h("p", { id: "place-hint", class: "hint place-hint", role: "status" });
    $("#result-list").before(el);
  }
  el.replaceChildren(text, ...suggestions.flatMap((s, i) => [
    i ? I18n.pick("、", ", ") : " ",
    h("button", { type: "button", class: "link suggestion", text: s, onclick: () => { $("#q").value = s; findText(s); } }),
  ]), suggestions.length ? I18n.pick("？", "?") : "");
}
function clearHint() {
  const el = $("#place-hint");
  if (el) el.remove();
}

/** Run the search box: a place first, then assets. */
export async function findText(q) {
  clearHint();
  setPlaceLayer(null);
  let places = null;
  try {
    ({ data: places } = await request("/api/places?" + new URLSearchParams({ q, limit: 5 })));
  } catch (err) {
    if (err.status !== 400) toast(errorText(err), 5000);
  }
  const top = places && places.features[0];
  if (top && (top.properties.kind === "intersection" || top.properties.kind === "address")) {
    showPlace(top);
    if (places.note) toast(places.note, 8000);  // (said in the page's language: Accept-Language)
    const [lon, lat] = top.geometry.coordinates;
    return radiusSearch([lon, lat]);
  }
  App.searchShape = null;
  if (top) showPlace(top);
  await runSearch({ kind: "text", params: { q } });
  if (!App.results.length && top) fitResults();
  if (!App.results.length && !top) {
    const unmatched = (places && places.unmatched) || q;
    const s = (places && places.suggestions) || [];
    hint(I18n.pick(`没有找到“${unmatched}”。`, `Nothing found for “${unmatched}”.`) + (s.length ? I18n.pick("您是不是要找：", "Did you mean:") : ""), s);
  }
}

/** Suggestions while typing: places first, then asset codes, names and roads. */
export async function suggestText(q) {
  let names = [];
  try {
    const { data } = await request("/api/places?" + new URLSearchParams({ q, limit: 6 }));
    names = data.features.map((f) => f.properties.name);
  } catch {
    names = []; // a half-typed query the gazetteer refuses: assets still suggest
  }
  return suggest(q, names);
}
