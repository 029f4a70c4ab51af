// Subscribes to a cms-graph server with the graphql-ws client (graphql-transport-ws protocol)
// and prints every message as one JSON line on stdout, until the subscription ends.
//
// Usage: node subscribe.mjs URL QUERY [VARIABLES_JSON] [--token T] [--header-token T]
//   --token T         sends {"Authorization": "Bearer T"} in the connection_init payload
//   --header-token T  sends the Authorization header with the WebSocket upgrade request
//
// Lines: {"event":"connected"}, {"event":"next","payload":{...}},
// {"event":"error","error":...} and {"event":"complete"}. The exit status is 0 after
// "complete" and 1 after "error".
import { createClient } from "graphql-ws";
import WebSocket from "ws";

function parseArguments(argv) {
  const positional = [];
  const options = {};
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    if (argument === "--token" || argument === "--header-token") {
      options[argument.slice(2)] = argv[index + 1];
      index += 1;
    } else {
      positional.push(argument);
    }
  }
  const [url, query, variables] = positional;
  if (!url || !query) {
    process.stderr.write("usage: node subscribe.mjs URL QUERY [VARIABLES_JSON] [--token T] [--header-token T]\n");
    process.exit(2);
  }
  return { url, query, variables: variables ? JSON.parse(variables) : undefined, options };
}

function print(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

function describeError(error) {
  if (Array.isArray(error)) {
    return { errors: error };
  }
  if (error && typeof error.code === "number") {
    // A CloseEvent: the server closed the socket with a protocol close code.
    return { code: error.code, reason: error.reason };
  }
  return { message: String(error && error.message ? error.message : error) };
}

const { url, query, variables, options } = parseArguments(process.argv.slice(2));

const headers = options["header-token"]
  ? { Authorization: `Bearer ${options["header-token"]}` }
  : {};

class WebSocketWithHeaders extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { headers });
  }
}

const client = createClient({
  url,
  webSocketImpl: WebSocketWithHeaders,
  connectionParams: options.token ? { Authorization: `Bearer ${options.token}` } : {},
  // Any close ends this client: the test decides whether and how to resubscribe.
  retryAttempts: 0,
  shouldRetry: () => false,
  on: {
    connected: () => print({ event: "connected" }),
  },
});

client.subscribe(
  { query, variables },
  {
    next: (payload) => print({ event: "next", payload }),
    error: (error) => {
      print({ event: "error", error: describeError(error) });
      client.dispose();
      process.exitCode = 1;
    },
    complete: () => {
      print({ event: "complete" });
      client.dispose();
    },
  },
);
