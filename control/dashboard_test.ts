// GET / and /dashboard.js through app.request(): content negotiation, headers,
// and a script that parses. The browser test (tests/dashboard_test.ts) checks
// what the page shows.
import assert from "node:assert/strict";
import { createControlApp } from "./app.ts";
import { DASHBOARD_JS } from "./_dashboard_page.ts";
import { prefersJson } from "./_dashboard_route.ts";

const app = createControlApp({ rateLimit: false });

Deno.test("GET / serves the dashboard to browsers, with a strict CSP", async () => {
  const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
  for (const accept of [browser, undefined, "*/*"]) {
    const res = await app.request("/", { headers: accept ? { Accept: accept } : {} });
    assert.equal(res.status, 200, String(accept));
    assert.match(res.headers.get("content-type")!, /^text\/html; charset=utf-8/i);
    assert.match(res.headers.get("content-security-policy")!, /script-src 'self'/);
    assert.match(res.headers.get("content-security-policy")!, /default-src 'none'/);
    assert.equal(res.headers.get("vary"), "Accept");
    const html = await res.text();
    assert.match(html, /<title>Olaf bootstrap<\/title>/);
    assert.match(html, /<script src="\.\/dashboard\.js"><\/script>/);
    // Nothing from elsewhere: no absolute URL in a src or href.
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  }
  const head = await app.request("/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
});

Deno.test("GET / answers JSON to a client that asks for it", async () => {
  for (const accept of ["application/json", "application/json, text/plain, */*"]) {
    const res = await app.request("/", { headers: { Accept: accept } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    const index = await res.json();
    assert.equal(index.name, "@olaf/control");
    assert.equal(index.version, "0.1.0");
    assert.equal(index.bootstrap, false);
    assert.ok(index.endpoints.includes("GET /stats"));
  }
  const post = await app.request("/", { method: "POST" });
  assert.equal(post.status, 405);
});

Deno.test("prefersJson weighs q-values and wildcards", () => {
  assert.equal(prefersJson(undefined), false);
  assert.equal(prefersJson(""), false);
  assert.equal(prefersJson("*/*"), false);
  assert.equal(prefersJson("application/json"), true);
  assert.equal(prefersJson("application/*"), true);
  assert.equal(prefersJson("text/html;q=0.5, application/json"), true);
  assert.equal(prefersJson("application/json;q=0.5, text/html"), false);
  assert.equal(prefersJson("text/*, application/json;q=0.9"), false);
  assert.equal(prefersJson("text/plain"), false);
  assert.equal(prefersJson("application/json, text/plain, */*"), true);
  assert.equal(prefersJson("text/html, application/json"), false);
});

Deno.test("GET /dashboard.js is JavaScript that parses", async () => {
  const res = await app.request("/dashboard.js");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/javascript/);
  const script = await res.text();
  assert.equal(script, DASHBOARD_JS);
  // Parse only (the body never runs): a syntax error throws here.
  new Function(script);
  // Server data goes into the page as text only.
  assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});
