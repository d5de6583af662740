package dev.solder.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Draws {@code training_curves.png} from a run's log history: training loss, learning rate and the
 * evaluation metric (accuracy when there is one) against the step, one panel each. Pure Java2D on a
 * {@link BufferedImage}, so it works headless; if the JVM has no usable fonts the panels are drawn
 * without text rather than failing the run.
 */
final class TrainingPlot {
    private static final int W = 900;
    private static final int PANEL_H = 240;
    private static final int ML = 90;
    private static final int MR = 30;
    private static final int MT = 34;
    private static final int MB = 36;

    private TrainingPlot() {
    }

    record Series(String title, List<double[]> points, Color color) {
    }

    /** The metric key shown in the third panel: eval accuracy if logged, else the first other eval metric. */
    static String evalKey(List<Map<String, Object>> history) {
        String fallback = null;
        for (Map<String, Object> e : history) {
            for (String k : e.keySet()) {
                if (k.equalsIgnoreCase("eval_accuracy")) {
                    return k;
                }
                if (fallback == null && k.startsWith("eval_") && !k.equals("eval_loss") && !k.endsWith("_runtime")
                        && !k.endsWith("_per_second")) {
                    fallback = k;
                }
            }
        }
        return fallback != null ? fallback : "eval_loss";
    }

    static void write(Path file, List<Map<String, Object>> history) throws IOException {
        System.setProperty("java.awt.headless", "true");
        String ek = evalKey(history);
        List<Series> panels = List.of(
                new Series("training loss", points(history, "loss"), new Color(31, 119, 180)),
                new Series("learning rate", points(history, "learning_rate"), new Color(255, 127, 14)),
                new Series(ek.replace("eval_", "eval ").replace('_', ' '), points(history, ek), new Color(44, 160, 44)));
        BufferedImage img = new BufferedImage(W, PANEL_H * panels.size(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, img.getWidth(), img.getHeight());
            // One step axis for all panels, from 0, with round ticks: a single evaluation at the
            // last step sits at the right end, under the loss curve's last point.
            double lastStep = 1;
            for (Series s : panels) {
                for (double[] p : s.points()) {
                    lastStep = Math.max(lastStep, p[0]);
                }
            }
            double tick = tickStep(lastStep);
            double axisEnd = Math.ceil(lastStep / tick) * tick;
            boolean text = true;
            for (int i = 0; i < panels.size(); i++) {
                text = panel(g, panels.get(i), i * PANEL_H, text, axisEnd, tick);
            }
        } finally {
            g.dispose();
        }
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        if (!ImageIO.write(img, "png", tmp.toFile())) {
            throw new IOException("no PNG writer in this JVM");
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static List<double[]> points(List<Map<String, Object>> history, String key) {
        List<double[]> pts = new ArrayList<>();
        for (Map<String, Object> e : history) {
            Object v = e.get(key);
            Object s = e.get("step");
            if (v instanceof Number n && s instanceof Number st && Double.isFinite(n.doubleValue())) {
                pts.add(new double[] {st.doubleValue(), n.doubleValue()});
            }
        }
        return pts;
    }

    /**
     * The distance between step ticks for an axis from 0 to {@code last}: 1, 2, 2.5 or 5 times a power
     * of ten, the smallest that needs at most four intervals; whole steps at least.
     */
    static double tickStep(double last) {
        double raw = Math.max(last, 1) / 4;
        double pow = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double f : new double[] {1, 2, 2.5, 5, 10}) {
            if (f * pow >= raw - 1e-9) {
                return Math.max(1, f * pow);
            }
        }
        return Math.max(1, 10 * pow);
    }

    /** Draws one panel over steps 0 to {@code axisEnd}; returns whether text drawing still works. */
    private static boolean panel(Graphics2D g, Series s, int top, boolean text, double axisEnd, double tick) {
        int x0 = ML;
        int x1 = W - MR;
        int y0 = top + MT;
        int y1 = top + PANEL_H - MB;
        g.setColor(new Color(245, 245, 245));
        g.fillRect(x0, y0, x1 - x0, y1 - y0);
        g.setColor(Color.GRAY);
        g.drawRect(x0, y0, x1 - x0, y1 - y0);
        double minX = 0;
        double maxX = axisEnd;
        double minY = 0;
        double maxY = 1;
        if (!s.points().isEmpty()) {
            minY = Double.MAX_VALUE;
            maxY = -Double.MAX_VALUE;
            for (double[] p : s.points()) {
                minY = Math.min(minY, p[1]);
                maxY = Math.max(maxY, p[1]);
            }
            if (maxY == minY) {
                double d = Math.abs(maxY) > 0 ? Math.abs(maxY) * 0.1 : 1;
                minY -= d;
                maxY += d;
            }
            double pad = (maxY - minY) * 0.05;
            boolean nonNegative = minY >= 0;
            minY -= pad;
            maxY += pad;
            if (nonNegative && minY < 0) {
                minY = 0;   // a learning rate decaying to 0 should not show negative ticks
            }
        }
        g.setColor(new Color(220, 220, 220));
        for (int i = 1; i < 4; i++) {
            int y = y0 + (y1 - y0) * i / 4;
            g.drawLine(x0 + 1, y, x1 - 1, y);
        }
        if (!s.points().isEmpty()) {
            g.setColor(s.color());
            g.setStroke(new BasicStroke(2f));
            Path2D path = new Path2D.Double();
            boolean first = true;
            for (double[] p : s.points()) {
                double x = x0 + (p[0] - minX) / (maxX - minX) * (x1 - x0);
                double y = y1 - (p[1] - minY) / (maxY - minY) * (y1 - y0);
                if (first) {
                    path.moveTo(x, y);
                    first = false;
                } else {
                    path.lineTo(x, y);
                }
                if (s.points().size() <= 60) {
                    g.fillOval((int) x - 3, (int) y - 3, 7, 7);
                }
            }
            g.draw(path);
            g.setStroke(new BasicStroke(1f));
        }
        if (!text) {
            return false;
        }
        try {
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
            g.drawString(s.title() + (s.points().isEmpty() ? " (no data)" : ""), x0, top + 22);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            for (int i = 0; i <= 4; i++) {
                double v = maxY - (maxY - minY) * i / 4;
                int y = y0 + (y1 - y0) * i / 4;
                g.drawString(num(v), 6, y + 4);
            }
            for (double v = 0; v <= maxX + 1e-9; v += tick) {
                int x = x0 + (int) Math.round(v / maxX * (x1 - x0));
                String label = v == Math.rint(v) ? String.format(Locale.ROOT, "%.0f", v)
                        : String.format(Locale.ROOT, "%.1f", v);
                g.drawString(label, x - 4 * label.length(), y1 + 16);
            }
            g.drawString("step", x1 - 30, y1 + 30);
            return true;
        } catch (Throwable t) {   // no fonts in a minimal JRE: keep the curves
            return false;
        }
    }

    private static String num(double v) {
        double a = Math.abs(v);
        if (a != 0 && (a < 1e-3 || a >= 1e5)) {
            return String.format(Locale.ROOT, "%.2e", v);
        }
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
