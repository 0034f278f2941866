/** @module The Dexie adapter in an app's own Dexie database, on fake-indexeddb. */
import { dexieAppDatabaseTests } from './dexie-app-db.shared.js'

dexieAppDatabaseTests('fake-indexeddb')
