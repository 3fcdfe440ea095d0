package dev.nsa4j.bench;

import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Writes a set of .npy files into a directory all or nothing. The files are written into a temporary
 * directory next to the target (same file system), then moved into place. If the target does not exist the
 * temporary directory is renamed to it; otherwise any existing files of the same names are first moved
 * aside and are restored if a later move fails. Other files in the target are never touched. On failure
 * the target is left as it was and the temporary directory is removed.
 */
final class AtomicOutput {
    private AtomicOutput() {}

    /**
     * The usage check of an {@code --out DIR} option, before anything is computed: null or a directory, or a path
     * that does not exist yet.
     *
     * @throws ParameterException when {@code out} exists and is not a directory
     */
    static void checkOption(CommandSpec spec, Path out) {
        if (out != null && Files.exists(out) && !Files.isDirectory(out)) {
            throw new ParameterException(spec.commandLine(),
                    "--out " + out + " exists and is not a directory");
        }
    }

    /** Writes {@code files} (name without {@code .npy} → tensor) into {@code dir}. */
    static void write(Path dir, Map<String, HostTensor> files) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(target)) {
            throw new IOException(target + " exists and is not a directory");
        }
        for (String name : files.keySet()) {
            Path p = target.resolve(name + ".npy");
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException(p + " exists and is not a regular file; " + target + " left as it was");
            }
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, "." + target.getFileName() + ".tmp-");
        try {
            Path fresh = tmp.resolve("new");
            Files.createDirectory(fresh);
            for (Map.Entry<String, HostTensor> e : files.entrySet()) {
                Npy.write(fresh.resolve(e.getKey() + ".npy"), e.getValue());
            }
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                move(fresh, target);
                return;
            }
            replaceInto(target, fresh, tmp.resolve("old"), new ArrayList<>(files.keySet()));
        } finally {
            deleteTree(tmp);
        }
    }

    private static void replaceInto(Path target, Path fresh, Path backup, List<String> names) throws IOException {
        Files.createDirectory(backup);
        Map<String, Boolean> backedUp = new LinkedHashMap<>();
        List<String> movedIn = new ArrayList<>();
        try {
            for (String n : names) {
                Path p = target.resolve(n + ".npy");
                if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                    move(p, backup.resolve(n + ".npy"));
                    backedUp.put(n, true);
                }
            }
            for (String n : names) {
                move(fresh.resolve(n + ".npy"), target.resolve(n + ".npy"));
                movedIn.add(n);
            }
        } catch (IOException | RuntimeException e) {
            for (String n : movedIn) {
                try {
                    Files.deleteIfExists(target.resolve(n + ".npy"));
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            for (String n : backedUp.keySet()) {
                try {
                    move(backup.resolve(n + ".npy"), target.resolve(n + ".npy"));
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                for (Path c : ds) {
                    deleteTree(c);
                }
            }
        }
        Files.delete(p);
    }
}
