/** First module of the browser bench pages: notes when the script started and counts IndexedDB transactions. */

/** `performance.now()` when the bundle began to run (navigation start is 0). Imported first, so evaluated first. */
export const scriptStart = performance.now()

/** IndexedDB transactions opened in this page so far, by mode. */
export const txCount = { readwrite: 0, readonly: 0 }

// Wrapped before anything opens a database: idb looks `transaction` up on the prototype at each call.
const original = IDBDatabase.prototype.transaction
IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof original>) {
  if (args[1] === 'readwrite') txCount.readwrite++
  else txCount.readonly++
  return original.apply(this, args)
} as typeof original
