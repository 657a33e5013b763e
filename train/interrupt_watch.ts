/**
 * The Ctrl-C watcher thread of a training run (see interrupts.ts): it holds the signal
 * listeners, so a signal is answered while the main thread computes, prints the answer and
 * tells the main thread through shared memory, and with a message when it must exit now.
 */

import { onInterrupt } from "./interrupts.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SharedArrayBuffer>) => void) | null;
  postMessage(message: string): void;
};

scope.onmessage = (e) => {
  const view = new Int32Array(e.data);
  const handle = () => {
    const { line, exit } = onInterrupt(view);
    console.error(line);
    if (exit) scope.postMessage("exit");
  };
  Deno.addSignalListener("SIGINT", handle);
  // Windows has no SIGTERM to listen to
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", handle);
  scope.postMessage("ready");
};
