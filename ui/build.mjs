// Builds the dashboard's static assets into ui/dist: Tailwind CSS (from npm, purged
// against the templates and scripts) and Chart.js's UMD bundle, plus the page scripts (ES
// modules, served as they are: app.js and what it imports).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
mkdirSync(dist, { recursive: true });

execFileSync(
  process.execPath,
  [join(here, "node_modules", "tailwindcss", "lib", "cli.js"),
   "-c", join(here, "tailwind.config.js"),
   "-i", join(here, "src", "app.css"),
   "-o", join(dist, "app.css"),
   "--minify"],
  { stdio: "inherit", env: { ...process.env, BROWSERSLIST_IGNORE_OLD_DATA: "1" } },
);
copyFileSync(join(here, "node_modules", "chart.js", "dist", "chart.umd.min.js"), join(dist, "chart.umd.min.js"));
for (const script of readdirSync(join(here, "src")).filter((f) => f.endsWith(".js"))) {
  copyFileSync(join(here, "src", script), join(dist, script));
}
writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
