/* The page's deployment configuration (basemaps, public reading). The server writes it
 * as a JSON data block, <script type="application/json" id="registry-config">, which is
 * read here and never executed: the Content-Security-Policy allows no inline script. */

const block = document.getElementById("registry-config");

/** {basemaps: [...], public_read: bool} as the server configured them. */
export const CONFIG = Object.freeze({ basemaps: [], public_read: false, ...(block ? JSON.parse(block.textContent) : {}) });
