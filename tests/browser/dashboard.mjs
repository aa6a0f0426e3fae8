// Drives the Prognos dashboard with Debian's headless chromium, as a user would: opens /fleet, is sent to the
// login form, logs in with a token, checks that the fleet page ranks the worn wheel first with its open alert,
// clicks through to the wheel's page, checks that its health chart drops below the threshold line and marks the
// alert, opens a capture, and logs out. Saves a full-page PNG of each page in the artefact folder.
//
// Usage: node tests/browser/dashboard.mjs --url http://127.0.0.1:PORT --out DIR [--asset W03] [--threshold 70]
//          [--chromium /usr/bin/chromium]
// The viewer token comes from PROGNOS_TOKEN (or --token; the environment keeps it out of `ps`). Every option
// also reads an environment variable: PROGNOS_URL, PROGNOS_ARTIFACTS, PROGNOS_ASSET, PROGNOS_THRESHOLD,
// PROGNOS_CHROMIUM. Exits 0 when every check passed, 1 with the failed check on stderr (and a screenshot of the
// page it failed on, FAILED-*.png), 2 on bad usage. tests/tests/dashboard_browser.rs runs it.

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string", default: process.env.PROGNOS_URL },
    token: { type: "string", default: process.env.PROGNOS_TOKEN },
    out: { type: "string", default: process.env.PROGNOS_ARTIFACTS },
    asset: { type: "string", default: process.env.PROGNOS_ASSET ?? "W03" },
    threshold: { type: "string", default: process.env.PROGNOS_THRESHOLD ?? "70" },
    chromium: { type: "string", default: process.env.PROGNOS_CHROMIUM ?? "/usr/bin/chromium" },
  },
});
if (!opts.url || !opts.token || !opts.out) {
  console.error("usage: PROGNOS_TOKEN=<viewer token> node dashboard.mjs --url <base URL> --out <artefact folder>");
  process.exit(2);
}
const base = opts.url.replace(/\/+$/, "");
const worn = opts.asset;
const threshold = Number(opts.threshold);
const outDir = resolve(opts.out);
mkdirSync(outDir, { recursive: true });

/** A failed check: what was expected, and what the page showed. */
class CheckFailed extends Error {}
function check(ok, message) {
  if (!ok) throw new CheckFailed(message);
}

let step = "start";
const saved = [];
async function screenshot(page, name) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  saved.push(path);
}

/** The health score shown in a table cell ("53.2"). */
function score(text) {
  const n = Number.parseFloat(String(text).trim());
  return Number.isFinite(n) ? n : NaN;
}

/** Whether the element's text is drawn in a red (as the dashboard shows scores below the threshold). */
async function isRed(locator) {
  const [r, g, b] = await locator.evaluate((el) => getComputedStyle(el).color.match(/\d+/g).map(Number));
  return r > 120 && r > 2 * g && r > 2 * b;
}

/** Types `token` into the login form and submits it; returns the path the browser lands on: `/fleet` (or
 * wherever the form's `next` pointed) after a login, `/login` when the form is shown again. */
async function submitLogin(page, token) {
  await page.locator("form.login input#token").fill(token);
  await page.locator("form.login button[type=submit]").click();
  // The form posts to /login: a refusal shows the form again at /login (no query), a login redirects away.
  await page.waitForURL((u) => u.pathname !== "/login" || u.search === "");
  await page.waitForLoadState("load");
  return new URL(page.url()).pathname;
}

async function run(page, problems) {
  // 1. Not logged in: the fleet page sends the browser to the login form, which remembers where it was going.
  step = "login";
  await page.goto(`${base}/fleet`);
  const login = new URL(page.url());
  check(login.pathname === "/login", `opening /fleet without a session should show the login form, got ${page.url()}`);
  check(login.searchParams.get("next") === "/fleet", `the login form should bring the user back to /fleet: ${page.url()}`);
  const tokenField = page.locator("form.login input#token");
  check(await tokenField.isVisible(), "the login form has no visible token field");
  await screenshot(page, "01-login");

  // A wrong token is refused with a message, and the form is shown again.
  check((await submitLogin(page, "prg_not_a_real_token")) === "/login", "a wrong token should not log in");
  const error = page.locator("form.login [role=alert]");
  check(await error.isVisible(), "a wrong token should show an error on the login form");
  check((await error.innerText()).includes("not valid"), `unexpected login error: ${await error.innerText()}`);
  await screenshot(page, "02-login-refused");
  problems.length = 0; // the refused login answers 401 on purpose

  // The real token, typed into a fresh form and submitted with the button, brings the user back to /fleet.
  await page.goto(`${base}/fleet`);
  check(new URL(page.url()).searchParams.get("next") === "/fleet", `/fleet should show the login form: ${page.url()}`);
  const landed = await submitLogin(page, opts.token);
  const refused = landed === "/login" ? await error.innerText().catch(() => "") : "";
  check(landed === "/fleet", `logging in with the viewer token should open /fleet, the form says: ${refused}`);

  // 2. The fleet page: the worn wheel first (lowest health, in red) with its open alert.
  step = "fleet";
  check((await page.locator("h1").first().innerText()).trim() === "Fleet", "the login did not land on the fleet page");
  check(
    (await page.locator("header .who").innerText()).includes("signed in as"),
    "the page header does not say who is signed in",
  );
  const rows = page.locator("#ranking tr.asset");
  const count = await rows.count();
  check(count >= 2, `the ranking should list the worn wheel and at least one other asset, it lists ${count}`);
  const ranked = [];
  for (let i = 0; i < count; i++) {
    const row = rows.nth(i);
    const cell = row.locator("td.num span"); // an asset not scored yet has no health cell
    const scored = (await cell.count()) > 0;
    ranked.push({
      id: await row.getAttribute("data-asset"),
      health: scored ? score(await cell.first().innerText()) : NaN,
      red: scored && (await isRed(cell.first())),
    });
  }
  const order = ranked.map((r) => `${r.id} ${r.health}`).join(", ");
  check(ranked[0].id === worn, `${worn} should be ranked first (worst health), the ranking is: ${order}`);
  check(ranked[0].health < threshold, `${worn}'s health should be below ${threshold}: ${order}`);
  for (const r of ranked.filter((r) => Number.isFinite(r.health))) {
    check(r.red === r.health < threshold, `${r.id}'s health ${r.health} is ${r.red ? "" : "not "}shown in red`);
  }
  for (let i = 1; i < ranked.length; i++) {
    check(
      !(ranked[i].health < ranked[i - 1].health),
      `the ranking should be worst health first, it is: ${order}`,
    );
  }
  const alertRow = page.locator("#open-alerts tr", { has: page.locator(`a:text-is("${worn}")`) });
  check((await alertRow.count()) >= 1, `the fleet page's open alerts should list ${worn}`);
  const alertState = (await alertRow.first().locator(".pill").innerText()).trim();
  check(alertState === "firing", `${worn}'s open alert should be firing, it says "${alertState}"`);
  check(await alertRow.first().isVisible(), `${worn}'s open alert is not visible`);
  await screenshot(page, "03-fleet");

  // 3. Click through from the ranking to the worn wheel's page.
  step = "asset";
  await rows.first().locator("a").first().click();
  await page.waitForURL((u) => u.pathname === `/assets/${encodeURIComponent(worn)}`);
  const heading = (await page.locator("h1").first().innerText()).trim();
  check(heading === `Wheel ${worn}`, `the asset page's heading should be "Wheel ${worn}", it is "${heading}"`);
  const latest = page.locator("#latest-score");
  check(score(await latest.innerText()) < threshold, `the latest health shown should be below ${threshold}`);
  check(await isRed(latest), "the latest health below the threshold should be shown in red");

  // The health chart, as drawn: where the threshold line, the line's points and the alert marker are on screen.
  const chart = page.locator("svg.chart", { has: page.locator(':scope > title:text-is("Health score")') });
  check((await chart.count()) === 1, "the asset page should have one health score chart");
  await chart.scrollIntoViewIfNeeded();
  const drawn = await chart.evaluate((svg) => {
    const box = (el) => el.getBoundingClientRect();
    const screen = (el, x, y) => new DOMPoint(x, y).matrixTransform(el.getScreenCTM());
    const frame = [...svg.querySelectorAll(":scope > rect")].find((r) => r.getAttribute("fill") === "none");
    const line = svg.querySelector("g.threshold line");
    const points = [];
    for (const poly of svg.querySelectorAll("polyline.series")) {
      for (let i = 0; i < poly.points.numberOfItems; i++) {
        const p = poly.points.getItem(i);
        const q = screen(poly, p.x, p.y);
        points.push({ x: q.x, y: q.y });
      }
    }
    // Single observations are dots; points of short lines carry a tooltip with their time and value.
    const dots = [];
    for (const c of svg.querySelectorAll("circle")) {
      const b = box(c);
      const title = c.querySelector("title")?.textContent ?? null;
      dots.push({ x: b.x + b.width / 2, y: b.y + b.height / 2, title, single: c.classList.contains("point") });
    }
    for (const d of dots.filter((d) => d.single)) points.push({ x: d.x, y: d.y });
    const markers = [...svg.querySelectorAll("g.alert-marker")].map((g) => {
      const b = box(g.querySelector("line"));
      const label = g.querySelector("text");
      return { x: b.x + b.width / 2, label: label?.textContent ?? "", labelShown: label ? box(label).width > 0 : false };
    });
    return {
      svg: box(svg),
      frame: frame ? box(frame) : null,
      threshold: line ? { y: box(line).y + box(line).height / 2, label: svg.querySelector("g.threshold text")?.textContent } : null,
      points,
      dots,
      markers,
    };
  });
  check(drawn.frame && drawn.svg.width > 0 && drawn.svg.height > 0, "the health chart is not drawn");
  check(drawn.threshold, "the health chart has no threshold line");
  check(
    drawn.threshold.label === `alert threshold ${threshold}`,
    `the threshold line should be labelled "alert threshold ${threshold}", it says "${drawn.threshold.label}"`,
  );
  const inside = (p) =>
    p.x >= drawn.frame.x - 1 && p.x <= drawn.frame.right + 1 && p.y >= drawn.frame.y - 1 && p.y <= drawn.frame.bottom + 1;
  const pts = drawn.points.filter(inside).sort((a, b) => a.x - b.x);
  check(pts.length >= 2, `the health chart should show the wheel's scores, it shows ${pts.length} points`);
  const lineY = drawn.threshold.y;
  const below = pts.filter((p) => p.y > lineY + 0.5);
  check(below.length >= 1, `no point of the health line is drawn below the threshold line (y ${lineY.toFixed(1)})`);
  check(pts[0].y < lineY - 0.5, "the health line should start above the threshold (a healthy wheel that wore)");
  check(pts[pts.length - 1].y > lineY + 0.5, "the health line should end below the threshold (the drop)");
  // The drawing agrees with the numbers: a point's tooltip value is below the threshold exactly when it is
  // drawn below the line (points within half a pixel of it can go either way).
  for (const d of drawn.dots.filter((d) => d.title && Math.abs(d.y - lineY) >= 0.5)) {
    const value = Number.parseFloat(d.title.split(" ").pop());
    check(
      value < threshold === d.y > lineY,
      `the point "${d.title}" is drawn ${d.y > lineY ? "below" : "above"} the threshold line`,
    );
  }
  check(drawn.markers.length >= 1, "the health chart marks no alert");
  const firstBelow = below[0].x;
  const marker = drawn.markers.find((m) => m.x >= drawn.frame.x && m.x <= drawn.frame.right + 1);
  check(marker, "the alert marker lies outside the chart");
  check(/^alert #\d+/.test(marker.label) && marker.labelShown, `the alert marker's label is "${marker.label}"`);
  check(
    marker.x >= firstBelow - 1,
    `the alert is marked (x ${marker.x.toFixed(1)}) before the first score below the threshold (x ${firstBelow.toFixed(1)})`,
  );
  // The alert history under the charts.
  const history = page.locator("#alerts tr.alert");
  check((await history.count()) >= 1, "the asset page's alert history is empty");
  check(
    (await history.first().locator(".pill").innerText()).trim() === "firing",
    "the newest alert in the history should be firing",
  );
  await screenshot(page, `04-asset-${worn}`);
  await chart.screenshot({ path: join(outDir, `04-asset-${worn}-health-chart.png`) });
  saved.push(join(outDir, `04-asset-${worn}-health-chart.png`));

  // 4. The newest capture, from the "Latest scores" table.
  step = "capture";
  const captureLink = page.locator("#recent a[href^='/captures/']").first();
  if ((await captureLink.count()) === 0) {
    console.log("dashboard.mjs: no capture is linked from the asset page; capture page not checked");
  } else {
    const href = await captureLink.getAttribute("href");
    await captureLink.click();
    await page.waitForURL((u) => u.pathname === href);
    await page.waitForLoadState("load");
    const h1 = (await page.locator("h1").first().innerText()).trim();
    check(h1.startsWith("Capture ") && h1.endsWith(` of ${worn}`), `the capture page's heading is "${h1}"`);
    const captureScore = score((await page.locator("#capture-score b").innerText()).trim());
    check(captureScore < threshold, `the newest capture's health (${captureScore}) should be below ${threshold}`);
    check((await page.locator("table.features tr").count()) > 1, "the capture page lists no feature values");
    const images = page.locator("img.scan");
    if ((await page.locator("#scan-gone").count()) > 0) {
      console.log("dashboard.mjs: the capture's scan files are gone; pictures not checked");
    } else {
      check((await images.count()) === 2, "the capture page should show the height map and the intensity");
      for (const id of ["height", "intensity"]) {
        const size = await page.locator(`img.scan#${id}`).evaluate((img) => [img.complete, img.naturalWidth, img.naturalHeight]);
        check(size[0] && size[1] > 0 && size[2] > 0, `the ${id} picture did not load`);
      }
    }
    await screenshot(page, `05-capture-${href.split("/").pop()}`);
  }

  // 5. Log out: the session ends, and the fleet page asks for the login again.
  step = "logout";
  await page.locator("header form[action='/logout'] button").click();
  await page.waitForURL((u) => u.pathname === "/login");
  await page.goto(`${base}/fleet`);
  check(new URL(page.url()).pathname === "/login", "after logging out the fleet page should ask for the login again");

  check(problems.length === 0, `the browser reported problems:\n  ${problems.join("\n  ")}`);
}

const started = Date.now();
let browser;
let page;
try {
  step = "launch";
  browser = await chromium.launch({ executablePath: opts.chromium, headless: true, timeout: 30_000 });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  // Anything the browser itself complains about (script errors, refused styles or images, failed requests)
  // is a failure too.
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  await run(page, problems);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`dashboard.mjs: every check passed in ${seconds} s (${browser.version()}); screenshots:`);
  for (const p of saved) console.log(`  ${p}`);
  await browser.close();
} catch (e) {
  const what = e instanceof CheckFailed ? "check failed" : "error";
  console.error(`dashboard.mjs: ${what} at step "${step}"${page ? ` on ${page.url()}` : ""}: ${e.message}`);
  if (page) {
    try {
      const path = join(outDir, `FAILED-${step}.png`);
      await page.screenshot({ path, fullPage: true });
      console.error(`dashboard.mjs: the page as it was: ${path}`);
    } catch {
      // the browser is gone; nothing to capture
    }
  }
  if (saved.length) console.error(`dashboard.mjs: screenshots so far:\n  ${saved.join("\n  ")}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
