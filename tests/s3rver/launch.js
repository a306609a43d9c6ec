#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// Launcher for @20minutes/s3rver 5.0.0, the second, independent S3
// implementation nbds3's integration tests and benchmark run against.  It
// owns the server's options only: loopback address, port (0 = a free one,
// printed back), data directory, one fixed key pair in place of s3rver's
// built-in S3RVER/S3RVER, pre-created buckets, refusal of unsigned requests,
// and an optional fixed delay before every response (one Koa middleware,
// placed first in s3rver's chain) for the benchmark's latency runs.
//
// s3rver checks SigV4 signatures by default (allowMismatchedSignatures is
// false), so a wrong secret gets 403 SignatureDoesNotMatch.  It does NOT
// check x-amz-content-sha256 against the body, and ignores If-None-Match on
// PUT; radosgw is the server that checks those.
//
// Usage: node launch.js --directory DIR [--port N] [--address 127.0.0.1]
//          [--access-key K] [--secret-key S] [--bucket NAME]...
//          [--delay-ms N] [--allow-anonymous] [--pid-file F] [--port-file F]
//          [--silent]
// Environment: S3RVER_DELAY_MS is the default for --delay-ms.
// Prints "S3RVER_PORT=N" on stdout once it listens; exits on SIGTERM/SIGINT.

'use strict'

const fs = require('node:fs')
const { createRequire } = require('node:module')
const path = require('node:path')
const S3rver = require('@20minutes/s3rver')
const AWSAccount = require('@20minutes/s3rver/lib/models/account')
const S3Error = require('@20minutes/s3rver/lib/models/error')
// s3rver's own winston, for a log format without colours, with times.
const { format } = createRequire(require.resolve('@20minutes/s3rver'))('winston')

function usage(msg) {
  if (msg) console.error(`launch.js: ${msg}`)
  console.error(
    'usage: node launch.js --directory DIR [--port N] [--address ADDR]\n' +
      '         [--access-key K] [--secret-key S] [--bucket NAME]...\n' +
      '         [--delay-ms N] [--allow-anonymous] [--pid-file F]\n' +
      '         [--port-file F] [--silent]'
  )
  process.exit(2)
}

function parseArgs(argv) {
  const opts = {
    directory: undefined,
    address: '127.0.0.1',
    port: 0,
    accessKey: 'nbds3test',
    secretKey: 'nbds3testsecret000000000000000000000000',
    buckets: [],
    delayMs: Number(process.env.S3RVER_DELAY_MS || 0),
    allowAnonymous: false,
    pidFile: undefined,
    portFile: undefined,
    silent: false,
  }
  const valued = {
    '--directory': 'directory',
    '--address': 'address',
    '--port': 'port',
    '--access-key': 'accessKey',
    '--secret-key': 'secretKey',
    '--delay-ms': 'delayMs',
    '--pid-file': 'pidFile',
    '--port-file': 'portFile',
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') usage()
    else if (arg === '--allow-anonymous') opts.allowAnonymous = true
    else if (arg === '--silent') opts.silent = true
    else if (arg === '--bucket') {
      if (i + 1 >= argv.length) usage('--bucket needs a value')
      opts.buckets.push(argv[++i])
    } else if (arg in valued) {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`)
      opts[valued[arg]] = argv[++i]
    } else usage(`unknown argument: ${arg}`)
  }
  if (!opts.directory) usage('--directory is required')
  opts.port = Number(opts.port)
  opts.delayMs = Number(opts.delayMs)
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    usage('--port must be an integer in 0..65535')
  if (!Number.isFinite(opts.delayMs) || opts.delayMs < 0)
    usage('--delay-ms must be a non-negative number')
  return opts
}

// Write a small file atomically, so a waiting script never reads half.
function writeFileAtomic(file, text) {
  const tmp = `${file}.tmp${process.pid}`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  fs.mkdirSync(opts.directory, { recursive: true })

  // Replace the built-in S3RVER/S3RVER key pair by ours: any other key id
  // gets InvalidAccessKeyId, a wrong secret SignatureDoesNotMatch.
  const account = AWSAccount.DUMMY_ACCOUNT
  account.revokeAccessKey('S3RVER')
  account.createKeyPair(opts.accessKey, opts.secretKey)

  const server = new S3rver({
    address: opts.address,
    port: opts.port,
    directory: path.resolve(opts.directory),
    silent: opts.silent,
    allowMismatchedSignatures: false,
    vhostBuckets: false,
    resetOnClose: false,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  })

  // The log goes to a file: plain text with a timestamp on each line.
  for (const transport of server.logger.transports) {
    transport.format = format.combine(
      format.timestamp(),
      format.splat(),
      format.printf((i) => `${i.timestamp} ${i.level}: ${i.message}`)
    )
  }

  // Koa composes app.middleware when the server starts listening, so a
  // function put at the front here wraps everything s3rver does: it runs
  // first and its delay holds back every response, errors included.
  const front = async function nbds3Front(ctx, next) {
    try {
      if (
        !opts.allowAnonymous &&
        ctx.method !== 'OPTIONS' &&
        !ctx.get('authorization') &&
        !('X-Amz-Algorithm' in ctx.query) &&
        !('Signature' in ctx.query)
      ) {
        // s3rver lets unsigned requests through as anonymous; nbds3 always
        // signs, so an unsigned request is a bug we want to see.
        throw new S3Error('AccessDenied', 'Access Denied (unsigned request)')
      }
      await next()
    } finally {
      if (opts.delayMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, opts.delayMs))
      }
    }
  }
  server.middleware.unshift(front)

  const { port } = await server.run()

  if (opts.pidFile) writeFileAtomic(opts.pidFile, `${process.pid}\n`)
  if (opts.portFile) writeFileAtomic(opts.portFile, `${port}\n`)
  process.stdout.write(`S3RVER_PORT=${port}\n`)
  server.logger.info(
    `launch.js: s3rver 5 listening on http://${opts.address}:${port}` +
      ` dir=${opts.directory} delay-ms=${opts.delayMs}` +
      ` buckets=${opts.buckets.join(',') || '(none)'}` +
      ` anonymous=${opts.allowAnonymous ? 'allowed' : 'refused'}`
  )

  let stopping = false
  const stop = (signal) => {
    if (stopping) return
    stopping = true
    server.logger.info(`launch.js: ${signal}, closing`)
    // Do not wait for idle keep-alive connections to go away.
    if (server.httpServer.closeAllConnections) server.httpServer.closeAllConnections()
    server.close().finally(() => {
      if (opts.pidFile) fs.rmSync(opts.pidFile, { force: true })
      process.exit(0)
    })
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err) => {
  console.error(`launch.js: ${err.stack || err}`)
  process.exit(1)
})
