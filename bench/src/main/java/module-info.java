/**
 * The {@code nsa} command line ({@code dev.nsa4j.bench.NsaCli}: run, attend, routing, doctor, bench, version),
 * the bench CSV schemas and their Markdown and PNG reports ({@code dev.nsa4j.bench.report}). An application:
 * it exports nothing.
 *
 * <p>picocli builds the commands by reflection (package-private classes, private {@code @Option} fields), so
 * {@code dev.nsa4j.bench} is opened to {@code info.picocli}. The plots use JFreeChart (an automatic module
 * named by its manifest) and AWT, rendered headless. The launchers ({@code ./nsa}, {@code bin/nsa}) run the
 * jars on the class path, where this descriptor is ignored.
 */
module dev.nsa4j.bench {
    requires dev.nsa4j.nsa;
    requires dev.nsa4j.parity;
    requires info.picocli;
    requires org.jfree.jfreechart;
    requires java.desktop;

    opens dev.nsa4j.bench to info.picocli;
}
