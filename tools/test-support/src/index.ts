export { busyboxContext, busyboxAgent, BUSYBOX_BINARY } from "./busybox.js";
