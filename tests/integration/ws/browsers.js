// tests/integration/ws/browsers.js - two headless Chromium instances
// (Debian's /usr/bin/chromium, driven by puppeteer-core; no browser
// download) load page.html with JsSIP, register over WSS to sipedge,
// call each other with fake audio devices and hang up. Prints one JSON
// line with what each page saw; exits 0 when every step was seen, 1
// otherwise. Every wait is bounded; a watchdog ends the run at 75 s.
//
// usage: node browsers.js WSS_URL DOMAIN PAGE_PORT PROFILE_DIR [CALL_URI]
// With CALL_URI: one browser (alice) registers and calls it (a SIPp UAS
// over UDP); prints what alice saw (packetsReceived when the call was
// established), exits 0 once the call ended. CALL_URI "answer": alice
// registers and answers the call that comes in (exits 0 with audio;
// the offer it got is in alice.offer).
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const esbuild = require('esbuild');
const puppeteer = require('puppeteer-core');

const [url, domain, pagePort, profiles, callUri] = process.argv.slice(2);
const result = { alice: {}, bob: {}, error: null };
let browsers = [];
let server = null;

function done(code) {
	console.log(JSON.stringify(result));
	Promise.all(browsers.map(b => b.close().catch(() => {})))
		.finally(() => {
			if (server)
				server.close();
			process.exit(code);
		});
}

setTimeout(() => { result.error = 'watchdog: 75 s'; done(1); }, 75000);

// JsSIP is CommonJS: bundled for the page at start (esbuild, in memory).
const bundle = esbuild.buildSync({
	entryPoints: [path.join(__dirname, 'node_modules/jssip/lib/JsSIP.js')],
	bundle: true, globalName: 'JsSIP', platform: 'browser', write: false,
}).outputFiles[0].text;
const page = fs.readFileSync(path.join(__dirname, 'page.html'));

async function launch(name) {
	return puppeteer.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		userDataDir: path.join(profiles, name),
		args: [
			'--no-sandbox', // the tests run as root
			'--use-fake-device-for-media-stream',
			'--use-fake-ui-for-media-stream',
			// The test certificate is made at test time, signed by
			// nobody the browser knows: accepted for this test only.
			'--ignore-certificate-errors',
			'--allow-loopback-in-peer-connection',
			'--no-first-run', '--disable-gpu',
			'--disable-background-networking',
			'--disable-component-update',
		],
	});
}

// Wait until fn() (in the page) is true, at most ms.
function until(p, fn, ms, what) {
	return p.waitForFunction(fn, { timeout: ms, polling: 100 })
		.catch(() => { throw new Error(what + ' not seen in ' + ms + ' ms'); });
}

async function callOut(p) {
	await p.evaluate((u, w, d) => window.start(u, w, d), 'alice', url, domain);
	await until(p, () => window.state.registered || window.state.error,
		    15000, 'alice registered');
	result.alice.registered = await p.evaluate(() => window.state.registered);
	await p.evaluate(t => window.call(t), callUri);
	await until(p, () => window.state.established || window.state.ended ||
		    window.state.failed, 20000, 'alice call answered');
	// Established (media through an RTP gateway): audio, bounded at
	// 10 s; else the call failed or ended at once.
	for (let i = 0; i < 100; i++) {
		if (!await p.evaluate(() => window.state.established &&
				      !window.state.ended))
			break;
		result.alice.packetsReceived = await p.evaluate(() => window.packetsReceived());
		if (result.alice.packetsReceived > 0)
			break;
		await new Promise(ok => setTimeout(ok, 100));
	}
	if (!await p.evaluate(() => window.state.established))
		await until(p, () => window.state.ended || window.state.failed,
			    20000, 'alice call over');
	Object.assign(result.alice, await p.evaluate(() => ({
		progress: window.state.progress,
		established: window.state.established,
		ended: window.state.ended, failed: window.state.failed,
		log: window.state.log })));
	if (result.alice.established && !result.alice.ended) {
		await p.evaluate(() => window.hangup());
		await until(p, () => window.state.ended, 10000, 'alice hang-up');
		result.alice.ended = true;
	}
	done(result.alice.registered && result.alice.progress ? 0 : 1);
}

// CALL_URI "answer": alice registers and answers the call that comes
// in (page.html answers by itself), reports audio, then hangs up.
async function answerIn(p) {
	await p.evaluate((u, w, d) => window.start(u, w, d), 'alice', url, domain);
	await until(p, () => window.state.registered || window.state.error,
		    15000, 'alice registered');
	result.alice.registered = await p.evaluate(() => window.state.registered);
	await until(p, () => window.state.established || window.state.failed,
		    40000, 'a call answered');
	result.alice.established = await p.evaluate(() => window.state.established);
	for (let i = 0; result.alice.established && i < 100; i++) {
		result.alice.packetsReceived = await p.evaluate(() => window.packetsReceived());
		if (result.alice.packetsReceived > 0)
			break;
		await new Promise(ok => setTimeout(ok, 100));
	}
	if (result.alice.established) {
		await p.evaluate(() => window.hangup());
		await until(p, () => window.state.ended, 10000, 'alice hang-up');
		result.alice.ended = true;
	}
	Object.assign(result.alice, await p.evaluate(() => ({
		failed: window.state.failed, offer: window.state.offer,
		log: window.state.log })));
	done(result.alice.established && result.alice.packetsReceived > 0 ? 0 : 1);
}

async function main() {
	server = http.createServer((req, res) => {
		if (req.url === '/jssip.js') {
			res.writeHead(200, { 'Content-Type': 'text/javascript' });
			res.end(bundle);
		} else {
			res.writeHead(200, { 'Content-Type': 'text/html' });
			res.end(page);
		}
	});
	await new Promise((ok, ko) => {
		server.once('error', ko);
		server.listen(Number(pagePort), '127.0.0.1', ok);
	});
	if (callUri) {
		browsers = [await launch('alice')];
		const p = await browsers[0].newPage();
		await p.goto('http://127.0.0.1:' + pagePort + '/', { timeout: 15000 });
		return callUri === 'answer' ? answerIn(p) : callOut(p);
	}
	browsers = [await launch('alice'), await launch('bob')];
	const pages = { alice: await browsers[0].newPage(),
			bob: await browsers[1].newPage() };
	for (const [name, p] of Object.entries(pages)) {
		await p.goto('http://127.0.0.1:' + pagePort + '/', { timeout: 15000 });
		await p.evaluate((u, w, d) => window.start(u, w, d), name, url, domain);
	}
	for (const [name, p] of Object.entries(pages)) {
		await until(p, () => window.state.registered || window.state.error,
			    15000, name + ' registered');
		result[name].registered = await p.evaluate(() => window.state.registered);
		if (!result[name].registered)
			throw new Error(name + ': ' + await p.evaluate(() => window.state.error));
	}
	await pages.bob.evaluate(t => window.call(t), 'sip:alice@' + domain);
	for (const [name, p] of Object.entries(pages)) {
		await until(p, () => window.state.established || window.state.failed,
			    20000, name + ' call established');
		result[name].established = await p.evaluate(() => window.state.established);
		if (!result[name].established)
			throw new Error(name + ': call failed: ' +
					await p.evaluate(() => window.state.failed));
	}
	// Audio both ways: bounded at 15 s.
	for (let i = 0; i < 150; i++) {
		result.alice.packetsReceived = await pages.alice.evaluate(() => window.packetsReceived());
		result.bob.packetsReceived = await pages.bob.evaluate(() => window.packetsReceived());
		if (result.alice.packetsReceived > 0 && result.bob.packetsReceived > 0)
			break;
		await new Promise(ok => setTimeout(ok, 100));
	}
	await pages.bob.evaluate(() => window.hangup());
	for (const [name, p] of Object.entries(pages)) {
		await until(p, () => window.state.ended, 10000, name + ' hang-up');
		result[name].ended = true;
		result[name].endedBy = await p.evaluate(() => window.state.endedBy);
	}
	for (const [name, p] of Object.entries(pages))
		result[name].log = await p.evaluate(() => window.state.log);
	const ok = ['alice', 'bob'].every(n => result[n].registered &&
		result[n].established && result[n].packetsReceived > 0 &&
		result[n].ended);
	done(ok ? 0 : 1);
}

main().catch(e => { result.error = String(e && e.message || e); done(1); });
