// ESLint (flat config), check only: `./dev.sh test` runs `eslint` before pytest.
// The map page's own files are ES modules in the browser; Leaflet and its plugins are
// vendored classic scripts that provide the one global the modules may use, `L`.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["web/static/vendor/**", "node_modules/**", ".venv/**", ".tools/**", "var/**", "bench/out/**", "docs/**"] },
  js.configs.recommended,
  {
    files: ["web/static/app/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, L: "readonly" },
    },
    rules: {
      "no-undef": "error",
      "no-unused-vars": ["error", { caughtErrors: "none" }],
    },
  },
  {
    // the field app's service worker (served with its shell, SHELL, written before it)
    files: ["web/static/field-sw.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.serviceworker, SHELL: "readonly" } },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];
