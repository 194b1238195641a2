export { RealtimeClient } from "./client.js";
export { RealtimeError } from "./errors.js";
