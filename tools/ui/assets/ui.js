/* The UI's only behaviour, besides the chart: live fragments and "select all". The server renders
   (and escapes) every fragment; this script only swaps it in. */
/* global document, fetch, setTimeout */
'use strict';

(function () {
  /** Re-fetches `el`'s fragment every `data-every` ms while the page is visible. */
  function refresh(el) {
    var every = Number(el.getAttribute('data-every')) || 2000;
    var url = el.getAttribute('data-refresh');
    function tick() {
      if (document.hidden) return setTimeout(tick, every);
      fetch(url, { headers: { accept: 'text/html' } })
        .then(function (r) {
          return r.ok ? r.text() : Promise.reject(new Error('HTTP ' + r.status));
        })
        .then(function (text) {
          el.innerHTML = text;
          el.removeAttribute('data-stale');
        })
        .catch(function () {
          el.setAttribute('data-stale', 'true');
        })
        .finally(function () {
          setTimeout(tick, every);
        });
    }
    setTimeout(tick, every);
  }

  document.querySelectorAll('[data-refresh]').forEach(refresh);

  document.querySelectorAll('input.select-all').forEach(function (all) {
    all.addEventListener('change', function () {
      var form = all.closest('form');
      form.querySelectorAll('input[name="id"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });
})();
