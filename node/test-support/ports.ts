/** A free TCP port on 127.0.0.1, asked of the kernel; never 3306 (a system MySQL's port). */
import { createServer, type AddressInfo } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => (port === 3306 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}
