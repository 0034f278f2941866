/**
 * @module LangGraph.js's checkpointer validation suite on `EdgegraphSaver` over the Node adapters: SQLite (an in-memory
 * better-sqlite3 database per saver), PostgreSQL and Redis (real servers from test/servers, a table or key prefix per
 * saver, so each of the suite's groups starts empty).
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { createClient } from 'redis'
import { afterAll, beforeAll } from 'vitest'
import { createPostgresAdapter } from '../adapters/postgres.js'
import { createRedisAdapter, type RedisClientLike } from '../adapters/redis.js'
import { createSqliteAdapter } from '../adapters/sqlite.js'
import { validateEdgegraphSaver } from './langgraph-validation.js'
import { startPostgres, startRedis, type TestServer } from './servers/index.js'

const servers: TestServer[] = []
let pool: pg.Pool
let redis: ReturnType<typeof createClient>
let n = 0

beforeAll(async () => {
  const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis('none')])
  servers.push(postgres, redisServer)
  pool = new pg.Pool({ connectionString: postgres.url, max: 4 })
  pool.on('error', () => {})
  redis = createClient({ url: redisServer.url })
  redis.on('error', () => {})
  await redis.connect()
}, 60_000)

afterAll(async () => {
  await pool?.end()
  if (redis?.isOpen) redis.destroy()
  for (const server of servers) await server.stop()
}, 30_000)

const databases = new WeakMap<object, Database.Database>()
validateEdgegraphSaver(
  'sqlite',
  () => {
    const db = new Database(':memory:')
    const adapter = createSqliteAdapter(db)
    databases.set(adapter, db)
    return adapter
  },
  {
    destroy: (adapter) => {
      databases.get(adapter)?.close()
    },
  },
)
validateEdgegraphSaver('postgres', () => createPostgresAdapter(pool, { table: `lg${++n}` }))
validateEdgegraphSaver('redis', () => createRedisAdapter(redis as unknown as RedisClientLike, { prefix: `lg${++n}:` }))
