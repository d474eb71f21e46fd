package softsettings

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/lni/dragonboat/v4/logger"
)

// FileName is the name dragonboat looks for in the working directory.
const FileName = "dragonboat-soft-settings.json"

// Settings is the shipped file's content.
//
//go:embed dragonboat-soft-settings.json
var Settings []byte

var (
	savedDir string // the working directory to go back to; "" when unchanged
	// Used tells where the soft settings were read from: "embedded", the
	// operator's file in the working directory ("working-directory"), or
	// "defaults" when the embedded file could not be written.
	Used = "defaults"
)

func init() {
	logger.SetLoggerFactory(newRaftLogger)
	setLogLevels()
	if _, err := os.Stat(FileName); err == nil {
		Used = "working-directory"
		return
	}
	wd, err := os.Getwd()
	if err != nil {
		return
	}
	dir, err := materialise()
	if err != nil {
		return
	}
	if err := os.Chdir(dir); err != nil {
		return
	}
	savedDir, Used = wd, "embedded"
}

// materialise writes the embedded settings into a folder named by their
// hash under the user cache (or temp) folder, once, and returns the folder.
func materialise() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	sum := sha256.Sum256(Settings)
	dir := filepath.Join(base, "swarmhost", "dragonboat-"+hex.EncodeToString(sum[:8]))
	path := filepath.Join(dir, FileName)
	if b, err := os.ReadFile(path); err == nil && string(b) == string(Settings) {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".settings-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(Settings); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return dir, nil
}

// Restore changes back to the working directory the process started in. It
// is called by package consensus's init, after dragonboat read the file.
func Restore() {
	if savedDir != "" {
		_ = os.Chdir(savedDir)
		savedDir = ""
	}
}

// setLogLevels quietens dragonboat's loggers (they are created lazily, so
// the level set here holds for all of them).
func setLogLevels() {
	level := logger.ERROR
	switch os.Getenv("SWARMHOST_RAFT_LOG") {
	case "warning":
		level = logger.WARNING
	case "debug":
		level = logger.DEBUG
	case "info":
		level = logger.INFO
	}
	for _, name := range []string{"LogDB", "config", "dragonboat", "gossip", "logdb", "pebblekv",
		"raft", "raft-mt", "raftpb", "registry", "rsm", "server", "settings", "tan", "tools", "transport"} {
		logger.GetLogger(name).SetLevel(level)
	}
}
