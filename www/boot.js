// Loads the explorer. app.js imports the engine's WebAssembly glue (pkg/aicr_web.js) at
// the top, so when that file is missing (www/ served without building pkg/) or fails to
// load, app.js never runs and cannot say why. This module loads it dynamically and, if
// that fails, tells the user what is wrong instead of leaving an empty form.
const banner = document.getElementById('banner');

import('./app.js').catch((e) => {
  banner.textContent = 'The explorer could not load its recipe engine (pkg/aicr_web.js and its '
    + 'WebAssembly module). If you serve www/ yourself, build it first with `cargo xtask build`; '
    + '`cargo xtask serve` builds it for you. '
    + `Details: ${e?.message ?? e}`;
  banner.hidden = false;
  document.body.dataset.ready = 'failed';
});
