// A P2P chat in ten lines: deno run -A examples/chat.ts [BOOTSTRAP_HOST:PORT] [ROOM]
import { joinRoom } from "@olaf/peer";

const [bootstrap = "127.0.0.1:5000", name = "lobby"] = Deno.args;
await using room = await joinRoom(name, { bootstraps: [bootstrap] });
console.log(`joined ${name} as ${room.self.ip}:${room.self.port}; peers:`, room.peers);
room.onPeerJoin((peer) => console.log(`+ ${peer.ip}:${peer.port}`));
room.onPeerLeave((peer, reason) => console.log(`- ${peer.ip}:${peer.port} (${reason})`));
room.onMessage((msg) => console.log(`<${msg.from.ip}:${msg.from.port}> ${msg.text()}`));
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  for (const line of chunk.split("\n")) if (line.trim()) room.send(line);
} // end of input: `await using` leaves the room (bye to everyone)
