package ddblocal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

const launcherClass = "StagemoverLoopbackLauncher"

// launcherSource starts DynamoDB Local exactly as its own main class does
// (same command-line parsing and server), but sets the Jetty connector's host
// to 127.0.0.1 before starting it. DynamoDB Local has no flag for this.
// Telemetry is never configured (and -disableTelemetry is passed anyway).
const launcherSource = `import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class StagemoverLoopbackLauncher {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field f = DynamoDBProxyServer.class.getDeclaredField("server");
        f.setAccessible(true);
        Server jetty = (Server) f.get(proxy);
        for (Connector c : jetty.getConnectors()) {
            ((ServerConnector) c).setHost("127.0.0.1");
        }
        proxy.start();
        System.out.println("stagemover: DynamoDB Local listening on 127.0.0.1 only");
        proxy.join();
    }
}
`

// ensureLauncher compiles launcherSource once into
// dir/loopback-launcher/<hash>/ and returns that class directory.
func ensureLauncher(ctx context.Context, java, dir, jarDir string) (string, error) {
	sum := sha256.Sum256([]byte(launcherSource + "\x00" + jarDir))
	out := filepath.Join(dir, "loopback-launcher", hex.EncodeToString(sum[:8]))
	class := filepath.Join(out, launcherClass+".class")
	if _, err := os.Stat(class); err == nil {
		return out, nil
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		// A JDK often has javac next to java even when only java is on PATH.
		if real, rerr := filepath.EvalSymlinks(java); rerr == nil {
			if _, serr := os.Stat(filepath.Join(filepath.Dir(real), "javac")); serr == nil {
				javac, err = filepath.Join(filepath.Dir(real), "javac"), nil
			}
		}
		if err != nil {
			return "", fmt.Errorf("javac not found (install a JDK, e.g. openjdk-17-jdk-headless): %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".install.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(class); err == nil {
		return out, nil
	}
	tmp, err := os.MkdirTemp(dir, "launcher-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, launcherClass+".java")
	if err := os.WriteFile(src, []byte(launcherSource), 0o644); err != nil {
		return "", err
	}
	classes := filepath.Join(tmp, "classes")
	cmd := exec.CommandContext(ctx, javac, "--release", "11", "-nowarn",
		"-cp", filepath.Join(jarDir, jarName), "-d", classes, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("javac: %w: %s", err, tail(b, 2000))
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	_ = os.RemoveAll(out)
	if err := os.Rename(classes, out); err != nil {
		return "", err
	}
	return out, nil
}
