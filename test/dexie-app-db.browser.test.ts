/** @module The Dexie adapter in an app's own Dexie database, in real Chromium. */
import { dexieAppDatabaseTests } from './dexie-app-db.shared.js'

dexieAppDatabaseTests('Chromium')
