package dev.nsa4j.bench;

import java.io.IOException;
import java.nio.file.Path;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The options that say which NSA call a command computes (a picocli mixin of {@code nsa run} and {@code nsa grad}):
 * the inputs (.npy files, or random ones of a shape and seed), the config and the dtype.
 */
final class CaseOptions {
    static final String DEFAULT_SHAPE = "1,512,8,2,64,64";

    /** The call: its inputs, its config, phi's weights (null for avg) and where the inputs came from. */
    record Case(NsaInputs inputs, NsaConfig config, PhiWeights phi, String source) {
    }

    @Option(names = "--inputs", paramLabel = "DIR",
            description = "Directory of .npy inputs (q.npy, k_cmp.npy, ..., gates.npy, optional indices.npy and "
                    + "cu_seqlens.npy). H, G, Dk, Dv come from the files; --shape must not be given with it.")
    Path inputs;

    @Option(names = "--shape", paramLabel = ShapeSpec.FORMAT, converter = RunCommand.ShapeConverter.class,
            description = "Shape of random inputs (default: " + DEFAULT_SHAPE + "). Not allowed with --inputs.")
    ShapeSpec shape;

    @Option(names = "--block-len", paramLabel = "l", defaultValue = "32", description = "Compression block length l (default: ${DEFAULT-VALUE}).")
    int blockLen;

    @Option(names = "--stride", paramLabel = "d", defaultValue = "16", description = "Compression stride d (default: ${DEFAULT-VALUE}).")
    int stride;

    @Option(names = "--sel-block", paramLabel = "l'", defaultValue = "64", description = "Selection block length l' (default: ${DEFAULT-VALUE}).")
    int selBlock;

    @Option(names = "--n-sel", paramLabel = "n", defaultValue = "16", description = "Selected blocks per query and group, forced ones included (default: ${DEFAULT-VALUE}).")
    int nSel;

    @Option(names = "--window", paramLabel = "w", defaultValue = "512", description = "Sliding-window length w (default: ${DEFAULT-VALUE}).")
    int window;

    @Option(names = "--phi", paramLabel = "avg|mlp", defaultValue = "avg", converter = RunCommand.PhiConverter.class,
            description = "Compression function (default: ${DEFAULT-VALUE}). mlp uses random MLP weights drawn "
                    + "from --seed (hidden = D, torch.nn.Linear-like scale), also with --inputs.")
    Phi phi;

    @Option(names = "--scale", description = "Softmax scale (default: 1/sqrt(Dk)).")
    Double scale;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of random inputs and mlp weights (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dtype", paramLabel = "fp32|fp16|bf16", defaultValue = "fp32",
            converter = RunCommand.DTypeConverter.class,
            description = "Dtype q, k, v are computed in (default: ${DEFAULT-VALUE}); float32 files are rounded "
                    + "to it. Outputs are always written as float32.")
    DType dtype;

    /**
     * The call these options name: the config checked before random inputs are drawn.
     *
     * @throws ParameterException for --shape with --inputs
     */
    Case load(CommandSpec spec) throws IOException {
        if (inputs != null && shape != null) {
            throw new ParameterException(spec.commandLine(),
                    "--shape cannot be combined with --inputs: the shape comes from the .npy files");
        }
        NsaConfig.Builder cb = NsaConfig.builder().blockLen(blockLen).stride(stride).selBlock(selBlock).nSel(nSel)
                .window(window).phi(phi).scale(scale);
        NsaInputs in;
        String source;
        if (inputs != null) {
            InputFiles f = InputFiles.load(inputs, dtype);
            in = f.inputs();
            cb.heads(f.heads()).kvGroups(f.groups()).headDims(f.dk(), f.dv());
            source = "inputs from " + inputs;
        } else {
            ShapeSpec s = shape != null ? shape : ShapeSpec.parse(DEFAULT_SHAPE);
            cb.heads(s.heads()).kvGroups(s.groups()).headDims(s.dk(), s.dv());
            cb.build(); // config errors before drawing inputs
            in = RandomInputs.draw(s, dtype, seed);
            source = "random inputs, seed " + seed;
        }
        NsaConfig cfg = cb.build();
        return new Case(in, cfg, phi == Phi.MLP ? RandomInputs.mlp(cfg, seed) : null, source);
    }
}
