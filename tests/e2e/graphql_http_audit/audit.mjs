// Run the graphql-http server audits (GraphQL over HTTP specification) against a server.
//
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
//
// Prints one JSON array on standard output with an entry per audit: id, name, status
// ("ok", "notice", "warn" or "error") and, for a failed audit, the reason and the status
// code and body of the response that failed it. An audit that throws an error other than
// a failed assertion is reported with status "error" and the thrown message as reason.
// Exits with status 0 when the audits ran, whatever their results, and 2 on a usage error.

import { serverAudits } from "graphql-http";

const BODY_LIMIT = 500;

async function describeResponse(response) {
  if (!response) {
    return null;
  }
  let body;
  try {
    body = (await response.clone().text()).slice(0, BODY_LIMIT);
  } catch (error) {
    body = `<body already read: ${error.message}>`;
  }
  return { status: response.status, contentType: response.headers.get("content-type"), body };
}

async function runAudit(audit) {
  let result;
  try {
    result = await audit.fn();
  } catch (error) {
    return { id: audit.id, name: audit.name, status: "error", reason: `audit threw: ${error}` };
  }
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.response = await describeResponse(result.response);
  }
  return entry;
}

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs http://127.0.0.1:PORT/graphql");
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url })) {
  results.push(await runAudit(audit));
}
console.log(JSON.stringify(results, null, 2));
