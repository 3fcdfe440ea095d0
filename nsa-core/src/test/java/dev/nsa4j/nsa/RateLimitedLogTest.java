package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

class RateLimitedLogTest {
    @Test
    void limitsPerTagAndSaysSo() {
        List<String> lines = new ArrayList<>();
        RateLimitedLog log = new RateLimitedLog((level, line) -> lines.add(line), 2);
        assertTrue(log.log(Level.INFO, "route", "a=1"));
        assertTrue(log.log(Level.INFO, "route", "a=2"));
        assertFalse(log.log(Level.INFO, "route", "a=3"));
        assertTrue(log.log(Level.WARN, "fa2.fallback", "b=1"));
        assertEquals(List.of("NSA-LOG route a=1", "NSA-LOG route a=2",
                "NSA-LOG log.limit tag=route limit=2 further lines suppressed (NSA_LOG_LIMIT=0 for all)",
                "NSA-LOG fa2.fallback b=1"), lines);
        assertEquals(3, log.requested("route"));
    }

    @Test
    void zeroIsUnlimited() {
        List<String> lines = new ArrayList<>();
        RateLimitedLog log = new RateLimitedLog((level, line) -> lines.add(line), 0);
        for (int i = 0; i < 100; i++) {
            log.log(Level.INFO, "route", "i=" + i);
        }
        assertEquals(100, lines.size());
        assertThrows(IllegalArgumentException.class, () -> new RateLimitedLog((l, s) -> { }, -1));
    }

    @Test
    void unlimitedLinesPassTheLimitAndAreCounted() {
        List<String> lines = new ArrayList<>();
        RateLimitedLog log = new RateLimitedLog((level, line) -> lines.add(line), 1);
        for (int i = 0; i < 3; i++) {
            assertTrue(log.logUnlimited(Level.INFO, "fa2.audit", "i=" + i));
        }
        assertEquals(List.of("NSA-LOG fa2.audit i=0", "NSA-LOG fa2.audit i=1", "NSA-LOG fa2.audit i=2"), lines);
        assertEquals(3, log.requested("fa2.audit"));
        assertTrue(log.log(Level.INFO, "route", "a=1"), "other tags keep their own limit");
    }

    @Test
    void disabledLevelsAreNotCounted() {
        List<String> lines = new ArrayList<>();
        RateLimitedLog.Sink sink = new RateLimitedLog.Sink() {
            @Override
            public boolean enabled(Level level) {
                return level != Level.DEBUG;
            }

            @Override
            public void emit(Level level, String line) {
                lines.add(line);
            }
        };
        RateLimitedLog log = new RateLimitedLog(sink, 1);
        assertFalse(log.log(Level.DEBUG, "t", "x=1"));
        assertTrue(log.log(Level.INFO, "t", "x=2"));
        assertEquals("NSA-LOG t x=2", lines.get(0));
    }

    @Test
    void slf4jLoggerWorks() {
        RateLimitedLog log = new RateLimitedLog(org.slf4j.LoggerFactory.getLogger("test"), 1);
        assertTrue(log.log(Level.INFO, "t", "x=1"));
        assertFalse(log.log(Level.INFO, "t", "x=2"));
    }
}
