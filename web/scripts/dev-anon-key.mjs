// Prints a development anon key: an HS256 JWT with role "anon" signed with $JWT_SECRET used
// as raw UTF-8 bytes (as Supabase does). For local `npm run dev` only; production keys come
// from `cargo xtask secrets gen`. The anon key is public by design; JWT_SECRET is not and is
// never printed.
import { createHmac } from 'node:crypto'

const secret = process.env.JWT_SECRET
if (!secret) {
  console.error('error: set JWT_SECRET (the same value the server gets) and run again')
  process.exit(2)
}
const b64url = (s) => Buffer.from(s).toString('base64url')
const now = Math.floor(Date.now() / 1000)
const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
const payload = b64url(JSON.stringify({ role: 'anon', iss: 'supabase', iat: now, exp: now + 30 * 24 * 3600 }))
const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')
console.log(`${header}.${payload}.${sig}`)
