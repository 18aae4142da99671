// @rxtls/rx: filled in by its own issue (listen, connect, read, write).
export {};
