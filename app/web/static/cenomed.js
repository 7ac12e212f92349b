// Progressive enhancement only: every page works without this file.
// The character counters of the long text fields ("N caractères restants").
(function () {
  "use strict";
  function bind(counter) {
    var field = document.getElementById(counter.getAttribute("data-counter-for"));
    if (!field || !field.maxLength || field.maxLength < 0) { return; }
    var update = function () {
      var left = field.maxLength - field.value.length;
      counter.textContent = left + (left > 1 ? " caractères restants" : " caractère restant") +
        " sur " + field.maxLength + ".";
    };
    field.addEventListener("input", update);
    update();
  }
  function bindAll(root) {
    root.querySelectorAll("[data-counter-for]").forEach(bind);
  }
  document.addEventListener("DOMContentLoaded", function () { bindAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { bindAll(event.target); });
})();
