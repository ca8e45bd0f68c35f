/** Tailwind scans the templates and the page script for the classes they use. */
module.exports = {
  content: ["./templates/**/*.html", "./src/**/*.js"],
  theme: { extend: {} },
  plugins: [],
};
