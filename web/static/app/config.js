/* The page's deployment configuration (basemaps, public reading). The server writes it
 * as a JSON data block, <script type="application/json" id="registry-config">, which is
 * read here and never executed: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  const block = document.getElementById("registry-config");
  window.REGISTRY_CONFIG = block ? JSON.parse(block.textContent) : {};
})();
