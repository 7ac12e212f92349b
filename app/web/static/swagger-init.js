// Starts Swagger UI on /docs (app/web/api_docs.py). A file of its own: the page's
// Content-Security-Policy runs no inline script. Same options as FastAPI's page, without the
// online validator; the token given to "Authorize" is kept in memory only.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    window.ui = SwaggerUIBundle({
      url: root.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      presets: [SwaggerUIBundle.presets.apis],
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null,
      persistAuthorization: false
    });
  });
})();
