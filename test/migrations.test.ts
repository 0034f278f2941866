/** @module The D1 migration in migrations/ creates exactly the schema the D1 adapter creates on first use. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { schemaStatements, sqlTables } from '../adapters/sql.js'

describe('migrations/0001_edgegraph.sql', () => {
  it('holds the D1 adapter schema for the default "edgegraph" tables, statement for statement', () => {
    const sql = readFileSync(new URL('../migrations/0001_edgegraph.sql', import.meta.url), 'utf8')
    const statements = sql
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n')
      .split(';')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    expect(statements.sort()).toEqual(schemaStatements(sqlTables('edgegraph'), true).sort())
  })
})
