/* The emulator's records/s chart: uPlot (served from node_modules), fed every second from the
   emulator's status file through /emulator/status.json. */
/* global document, fetch, setTimeout, uPlot */
'use strict';

(function () {
  var box = document.getElementById('rate-chart');
  if (!box) return;
  var source = box.getAttribute('data-source');
  var chart = null;

  function draw(samples) {
    var xs = samples.map(function (s) {
      return s[0] / 1000;
    });
    var ys = samples.map(function (s) {
      return s[1];
    });
    if (chart) return chart.setData([xs, ys]);
    chart = new uPlot(
      {
        width: Math.max(320, box.clientWidth),
        height: 240,
        series: [{}, { label: 'records/s', stroke: '#2a6fdb', fill: 'rgba(42,111,219,0.12)', width: 2 }],
        axes: [{}, { label: 'records/s' }],
        scales: {
          y: {
            range: function (_u, _min, max) {
              return [0, Math.max(1, max * 1.1)];
            },
          },
        },
      },
      [xs, ys],
      box,
    );
  }

  function tick() {
    fetch(source)
      .then(function (r) {
        return r.json();
      })
      .then(function (s) {
        box.setAttribute('data-samples', String(s.samples.length));
        box.setAttribute('data-live', String(s.live));
        if (s.samples.length > 0) draw(s.samples);
      })
      .catch(function () {
        box.setAttribute('data-live', 'unknown');
      })
      .finally(function () {
        setTimeout(tick, 1000);
      });
  }
  tick();
})();
