/** Whether primitives record tape nodes; switched off for optimiser updates and plain inference. */

let recording = true;

export function isRecording(): boolean {
  return recording;
}

/** Runs `fn` without recording: results carry no graph and keep no intermediates alive. */
export function noGrad<T>(fn: () => T): T {
  const before = recording;
  recording = false;
  try {
    return fn();
  } finally {
    recording = before;
  }
}

/** Runs `fn` with recording switched on or off (the backward pass of `grad`). */
export function withRecording<T>(on: boolean, fn: () => T): T {
  const before = recording;
  recording = on;
  try {
    return fn();
  } finally {
    recording = before;
  }
}
