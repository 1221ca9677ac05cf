// The widget manager (@jupyter-widgets/html-manager 1.x) typesets widget text with MathJax 2's
// `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`; the book loads MathJax 3, which has no Hub.
// Give every object assigned to window.MathJax (the config, then MathJax 3 itself) a Hub whose Queue
// typesets the element with MathJax 3, so widget labels get their math and the console stays clean.
(function () {
  function hub() {
    return {
      Queue: function (job) {
        var el = job && job[2];
        var mj = window.MathJax;
        if (el && mj && typeof mj.typesetPromise === "function") {
          mj.typesetPromise([el]).catch(function () {});
        }
      }
    };
  }
  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      try { value.Hub = hub(); } catch (e) { /* frozen object: leave it */ }
    }
    return value;
  }
  var current = withHub(window.MathJax);
  try {
    Object.defineProperty(window, "MathJax", {
      configurable: true,
      get: function () { return current; },
      set: function (value) { current = withHub(value); }
    });
  } catch (e) { /* MathJax already locked in: nothing to do */ }
})();
