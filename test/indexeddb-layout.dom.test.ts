/** @module IndexedDB adapter layout (one store, stamps, range deletes) and schema upgrades on fake-indexeddb (real Chromium runs them too). */
import { runLayoutTests } from './indexeddb-layout.shared.js'

runLayoutTests('fake-indexeddb')
