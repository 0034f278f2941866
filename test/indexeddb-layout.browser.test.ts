/** @module IndexedDB adapter layout (one store, stamps, range deletes) and schema upgrades in real Chromium. */
import { runLayoutTests } from './indexeddb-layout.shared.js'

runLayoutTests('Chromium')
