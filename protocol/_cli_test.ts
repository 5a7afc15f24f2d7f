import assert from "node:assert/strict";
import { describeError, failure, integerFlag, parseFlags, UsageError } from "./_cli.ts";

const options = { port: { type: "string" }, json: { type: "boolean" } } as const;

Deno.test("parseFlags: negative numbers are values, errors are one short line", () => {
  assert.equal(parseFlags(["--port", "-5"], { options }).values.port, "-5");
  assert.equal(parseFlags(["--port=-5"], { options }).values.port, "-5");
  const cases: [string[], string][] = [
    [["--nope"], "unknown option --nope"],
    [["--port"], "--port needs a value"],
    [["--port", "--json"], "--port needs a value"],
    [["--json=yes"], "--json takes no value"],
    [["extra"], 'unexpected argument "extra"'],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(args, { options }), (e) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.message, message, args.join(" "));
      return true;
    });
  }
});

Deno.test("integerFlag: the range in the message, the value as typed", () => {
  assert.throws(
    () => integerFlag("port", "-5", 0, 65535),
    /^UsageError: --port must be 0\.\.65535, got -5$/,
  );
  assert.throws(() => integerFlag("port", "abc", 0, 65535), /got "abc"$/);
  assert.throws(() => integerFlag("port", 1.5, 0, 65535), /got 1\.5$/);
});

Deno.test("describeError: OS and resolver errors in plain words", async () => {
  assert.equal(
    describeError(new Deno.errors.AddrNotAvailable("os error 99")),
    "address not available on this machine",
  );
  assert.equal(
    describeError(new URIError("invalid host 'bad..name': empty label found in FQDN")),
    "not a valid host name",
  );
  // A real failed look-up: .invalid never resolves (RFC 6761), whatever the resolver says.
  const lookup = await Deno.resolveDns("boot.invalid", "A").then(() => undefined, (e) => e);
  assert.ok(lookup instanceof Error);
  assert.match(describeError(lookup), /^(no such host|DNS look-up failed|DNS look-up timed out)$/);
  assert.equal(
    describeError(new Error('proto error: no records found for Query { name: Name("x.") }')),
    "no such host",
  );
  assert.deepEqual(failure("olaf-x", new Error("a\nb")), { lines: ["olaf-x: a"], status: 1 });
  // What Deno.listenDatagram says for a host name that does not resolve (getaddrinfo).
  assert.equal(
    describeError(
      new Error("failed to lookup address information: Name or service not known"),
    ),
    "no such host",
  );
  assert.equal(
    describeError(
      new Error("failed to lookup address information: Temporary failure in name resolution"),
    ),
    "DNS look-up failed",
  );
});
