package dev.nsa4j.bench;

import picocli.CommandLine;

/**
 * The {@code --shape B,S,H,G,Dk,Dv} of a random run.
 *
 * @param batch  B
 * @param seqLen S
 * @param heads  H
 * @param groups G
 * @param dk     Dk
 * @param dv     Dv
 */
record ShapeSpec(int batch, int seqLen, int heads, int groups, int dk, int dv) {
    static final String FORMAT = "B,S,H,G,Dk,Dv";
    /** The same six fields as {@code nsa attend --random} names them (Hkv = G, the KV heads). */
    static final String ATTEND_FORMAT = "B,S,H,Hkv,Dk,Dv";

    /** Parses six comma-separated positive integers; the message names the bad field. */
    static ShapeSpec parse(String s) {
        return parse(s, FORMAT);
    }

    /** As {@link #parse(String)}, with the fields named after {@code format} (six comma-separated names). */
    static ShapeSpec parse(String s, String format) {
        String[] names = format.split(",");
        String[] parts = s.split(",", -1);
        if (parts.length != 6) {
            throw new CommandLine.TypeConversionException("expected 6 comma-separated positive integers "
                    + format + " (e.g. 1,1024,16,4,64,64), got " + parts.length + " field"
                    + (parts.length == 1 ? "" : "s") + " in '" + s + "'");
        }
        int[] v = new int[6];
        for (int i = 0; i < 6; i++) {
            String p = parts[i].trim();
            try {
                v[i] = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException(names[i] + " = '" + p + "' is not an integer (shape "
                        + format + ", got '" + s + "')");
            }
            if (v[i] <= 0) {
                throw new CommandLine.TypeConversionException(names[i] + " = " + v[i] + " must be positive (shape "
                        + format + ", got '" + s + "')");
            }
        }
        if (v[2] % v[3] != 0) {
            throw new CommandLine.TypeConversionException("H = " + v[2] + " is not a multiple of " + names[3] + " = " + v[3]
                    + " (shape " + format + ", got '" + s + "')");
        }
        return new ShapeSpec(v[0], v[1], v[2], v[3], v[4], v[5]);
    }

    @Override
    public String toString() {
        return "B=" + batch + " S=" + seqLen + " H=" + heads + " G=" + groups + " Dk=" + dk + " Dv=" + dv;
    }
}
