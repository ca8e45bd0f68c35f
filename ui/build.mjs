// Builds the dashboard's static assets into ui/dist: Tailwind CSS (from npm, purged
// against the templates and scripts) and Chart.js's UMD bundle, plus the page script.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
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
copyFileSync(join(here, "src", "app.js"), join(dist, "app.js"));
writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
