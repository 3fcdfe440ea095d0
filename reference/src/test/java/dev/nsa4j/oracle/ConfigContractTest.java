package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** the NSA spec (docs/nsa-spec.md) constraints checked when a config is built, each named in the error. */
class ConfigContractTest {

    /** A valid small config to break one rule at a time. */
    private static NsaConfig.Builder valid() {
        return NsaConfig.builder().heads(4).kvGroups(2).headDims(8, 8).blockLen(4).stride(2).selBlock(8).nSel(3)
                .window(4);
    }

    private static Arguments bad(String what, UnaryOperator<NsaConfig.Builder> edit, String subject, String rule) {
        return Arguments.of(Named.of(what, edit), subject, rule);
    }

    static Stream<Arguments> badConfigs() {
        return Stream.of(
                bad("H = 0", b -> b.heads(0), "config.heads", "H > 0"),
                bad("H = -4", b -> b.heads(-4), "config.heads", "H > 0"),
                bad("G = 0", b -> b.kvGroups(0), "config.kvGroups", "G > 0"),
                bad("Dk = 0", b -> b.headDims(0, 8), "config.headDimQk", "Dk > 0"),
                bad("Dv = 0", b -> b.headDims(8, 0), "config.headDimV", "Dv > 0"),
                bad("l = 0", b -> b.blockLen(0), "config.blockLen", "l > 0"),
                bad("d = 0", b -> b.stride(0), "config.stride", "d > 0"),
                bad("l' = 0", b -> b.selBlock(0), "config.selBlock", "l' > 0"),
                bad("w = 0", b -> b.window(0), "config.window", "w >= 1"),
                bad("w = -1", b -> b.window(-1), "config.window", "w >= 1"),
                bad("H=6, G=4", b -> b.heads(6).kvGroups(4), "config.kvGroups", "H % G == 0"),
                bad("H=2, G=4", b -> b.heads(2).kvGroups(4), "config.kvGroups", "H % G == 0"),
                bad("l=6, d=4, l'=8", b -> b.blockLen(6).stride(4).selBlock(8), "config.stride", "d | l"),
                bad("l=4, d=4, l'=6", b -> b.blockLen(4).stride(4).selBlock(6), "config.stride", "d | l'"),
                bad("l=16, d=8, l'=8", b -> b.blockLen(16).stride(8).selBlock(8), "config.blockLen", "l <= l'"),
                bad("n = 2", b -> b.nSel(2), "config.nSel", "n >= 3"),
                bad("n = 0", b -> b.nSel(0), "config.nSel", "n >= 3"),
                bad("scale = 0", b -> b.scale(0.0), "config.scale", "scale finite and > 0"),
                bad("scale = -1", b -> b.scale(-1.0), "config.scale", "scale finite and > 0"),
                bad("scale = inf", b -> b.scale(Double.POSITIVE_INFINITY), "config.scale", "scale finite and > 0"),
                bad("scale = NaN", b -> b.scale(Double.NaN), "config.scale", "scale finite and > 0"));
    }

    @ParameterizedTest(name = "{0} -> {1}: {2}")
    @MethodSource("badConfigs")
    void eachConfigRuleIsNamed(UnaryOperator<NsaConfig.Builder> edit, String subject, String rule) {
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> edit.apply(valid()).build());
        assertEquals(subject, e.subject(), "subject of " + e.getMessage());
        assertEquals(rule, e.rule(), "rule of " + e.getMessage());
    }

    @Test
    void boundaryConfigsAreAccepted() {
        assertDoesNotThrow(() -> valid().blockLen(1).stride(1).selBlock(1).nSel(3).window(1).build(), "l=d=l'=1, w=1");
        assertDoesNotThrow(() -> valid().heads(4).kvGroups(4).build(), "G = H");
        assertDoesNotThrow(() -> valid().heads(4).kvGroups(1).build(), "G = 1");
        assertDoesNotThrow(() -> valid().blockLen(8).stride(8).selBlock(8).build(), "l = d = l'");
        NsaConfig c = valid().headDims(16, 4).build();
        assertEquals(0.25, c.scale(), 0.0, "default scale 1/sqrt(Dk)");
        assertEquals(2, c.headsPerGroup(), "h = H / G");
        assertEquals(3, c.selBlocks(17), "ceil(17 / 8)");
        assertEquals(0, c.selBlocks(0), "no block in an empty sequence");
    }
}
